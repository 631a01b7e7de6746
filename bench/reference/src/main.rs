//! The reference server bench/run measures storefront against: `GET
//! /api/v1/products/{id}` reads one row by primary key and answers a tiny JSON object, the
//! way TechEmpower's actix-web + Diesel entry answers `/db`: an actix `SyncArbiter` of
//! three actors per core, each owning one `PgConnection`; the handler sends the id to the
//! arbiter and awaits the row. No pool, no middleware, no validation beyond the path.
//!
//!   DATABASE_URL=postgres://... BIND_ADDR=127.0.0.1:8099 reference-server

use actix::{Actor, Addr, Handler, Message, SyncArbiter, SyncContext};
use actix_web::{web, App, HttpResponse, HttpServer};
use diesel::prelude::*;
use serde::Serialize;

diesel::table! {
    products (id) {
        id -> Integer,
        inventory_count -> Integer,
    }
}

/// The row, as TechEmpower's World: an id and a number (here the product's stock).
#[derive(Queryable, Serialize)]
struct World {
    id: i32,
    #[serde(rename = "randomNumber")]
    randomnumber: i32,
}

struct DbExecutor(PgConnection);

impl Actor for DbExecutor {
    type Context = SyncContext<Self>;
}

struct GetWorld(i32);

impl Message for GetWorld {
    type Result = QueryResult<Option<World>>;
}

impl Handler<GetWorld> for DbExecutor {
    type Result = QueryResult<Option<World>>;

    fn handle(&mut self, msg: GetWorld, _: &mut Self::Context) -> Self::Result {
        // The query builder, as TechEmpower's entry: Diesel keeps it prepared per
        // connection (a `sql_query` would be parsed and planned on every read).
        products::table
            .find(msg.0)
            .select((products::id, products::inventory_count))
            .first(&mut self.0)
            .optional()
    }
}

async fn world(db: web::Data<Addr<DbExecutor>>, id: web::Path<i32>) -> HttpResponse {
    match db.send(GetWorld(id.into_inner())).await {
        Ok(Ok(Some(row))) => HttpResponse::Ok()
            .content_type("application/json")
            .body(serde_json::to_vec(&row).unwrap_or_default()),
        Ok(Ok(None)) => HttpResponse::NotFound().finish(),
        _ => HttpResponse::InternalServerError().finish(),
    }
}

fn main() -> std::io::Result<()> {
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let bind = std::env::var("BIND_ADDR").unwrap_or_else(|_| "127.0.0.1:8099".into());
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    actix::System::new().block_on(async move {
        let addr = SyncArbiter::start(3 * cores, move || {
            DbExecutor(PgConnection::establish(&url).expect("connect to DATABASE_URL"))
        });
        HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(addr.clone()))
                .route("/api/v1/products/{id}", web::get().to(world))
        })
        .bind(bind)?
        .run()
        .await
    })
}
