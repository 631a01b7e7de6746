//! The `storefront` command line: `serve` (the default), `migrate`, `seed`, `schema-doc`,
//! `admin`, `db` and `payment-gateway`.

pub mod seed;

use clap::{Parser, Subcommand};

use crate::auth::hash_blocking;
use crate::config::Config;
use crate::db;
use crate::domain::{Password, WebhookSecret};
use crate::gateway;
use crate::repository::users;
use crate::schema_doc;
use crate::startup;

#[derive(Debug, Parser)]
#[command(
    name = "storefront",
    version,
    about = "Backend of an online shop (REST/JSON)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the database if missing, apply migrations and serve HTTP (the default).
    Serve,
    /// Manage the schema without diesel_cli.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Load a realistic, reproducible demo data set (users share the password
    /// "storefront-demo"). Creates and migrates the database first if needed.
    Seed {
        #[arg(long, default_value_t = 100)]
        users: usize,
        #[arg(long, default_value_t = 1_000)]
        products: usize,
    },
    /// Write Markdown documentation of the live schema (tables, columns, constraints,
    /// indexes, triggers, comments).
    SchemaDoc {
        /// File to write; standard output when absent.
        #[arg(long, short)]
        output: Option<std::path::PathBuf>,
    },
    /// Manage staff accounts.
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
    /// Run the test payment gateway, a payment provider of its own (PAYMENT_GATEWAY_*):
    /// the service talks to it over HTTP as it would to a real one.
    PaymentGateway,
    /// Database roles (run with the owner's URL: DATABASE_MIGRATION_URL or DATABASE_URL).
    Db {
        #[command(subcommand)]
        action: DbAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum DbAction {
    /// Grant an existing role exactly what serving needs (rows of every table, sequences,
    /// and the same for tables of later migrations); no CREATE, TRUNCATE or ownership.
    GrantAppRole { role: String },
}

#[derive(Debug, Subcommand)]
pub enum AdminAction {
    /// Make an existing user an admin (may create, edit and archive products).
    Promote { username: String },
}

#[derive(Debug, Subcommand)]
pub enum MigrateAction {
    /// Apply every pending migration.
    Run,
    /// Revert the most recently applied migration.
    Revert,
    /// Revert the most recent migration and apply it again.
    Redo,
    /// List every migration as applied or pending.
    Status,
}

/// Runs one command to completion.
pub fn run(cli: Cli, config: &Config) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => startup::serve(&with_payment_gateway(config)?),
        Command::PaymentGateway => gateway::serve(config),
        Command::Migrate { action } => migrate(action, config),
        Command::Seed { users, products } => seed(users, products, config),
        Command::SchemaDoc { output } => schema_doc(output, config),
        Command::Admin {
            action: AdminAction::Promote { username },
        } => promote(&username, config),
        Command::Db {
            action: DbAction::GrantAppRole { role },
        } => grant_app_role(&role, config),
    }
}

/// The configuration `serve` runs with. With `PAYMENT_GATEWAY_URL` unset, a test gateway
/// is started inside this process on a free local port, sharing a webhook secret with
/// the service (a random one unless `PAYMENT_WEBHOOK_SECRET` is set), so the payment flow
/// works with no second command. With it set, the secret must be set too: the service
/// could not verify the gateway's webhooks otherwise.
fn with_payment_gateway(config: &Config) -> anyhow::Result<Config> {
    let mut config = config.clone();
    if config.payments.gateway_url.is_some() {
        if config.payments.webhook_secret.is_none() {
            anyhow::bail!(
                "PAYMENT_GATEWAY_URL is set but PAYMENT_WEBHOOK_SECRET is not: set it to the \
                 secret the gateway signs its webhooks with"
            );
        }
        return Ok(config);
    }
    let secret = config
        .payments
        .webhook_secret
        .get_or_insert_with(WebhookSecret::random)
        .clone();
    let mut settings = gateway::GatewaySettings::from_config(&config);
    settings.webhook_secret = secret;
    match gateway::start_in_process(settings) {
        Ok(url) => {
            tracing::info!(%url, "PAYMENT_GATEWAY_URL is not set: a test payment gateway runs inside this process");
            config.payments.gateway_url = Some(url);
        }
        // Serving goes on: payments answer 503 until a gateway is configured.
        Err(err) => tracing::warn!(%err, "could not start the in-process payment gateway"),
    }
    Ok(config)
}

fn grant_app_role(role: &str, config: &Config) -> anyhow::Result<()> {
    let url = db::connection_url(&config.migration_database());
    let mut conn = db::establish(&url)?;
    db::grant_app_role(&mut conn, role)?;
    println!(
        "{role} may now read and write the rows of every table of {:?} (and of tables later \
         migrations add); it cannot create, alter, truncate or drop them",
        url.database_name()
    );
    Ok(())
}

fn migrate(action: MigrateAction, config: &Config) -> anyhow::Result<()> {
    let url = db::connection_url(&config.migration_database());
    if matches!(action, MigrateAction::Run) {
        db::ensure_database_exists(&url)?;
    }
    let mut conn = match db::establish(&url) {
        Ok(conn) => conn,
        // Nothing is applied to a database that does not exist yet: say so, as status.
        Err(missing @ db::DbError::MissingDatabase { .. })
            if matches!(action, MigrateAction::Status) =>
        {
            eprintln!("{missing}");
            print_status(&db::embedded_migrations_against(&[])?);
            return Ok(());
        }
        Err(err) => return Err(err.into()),
    };
    // Diesel's own error here tells the user to run `diesel migration run`, a tool they
    // may not have; checking first lets us name ours. (Its message only reaches us as
    // text inside DbError, so asking the database is sturdier than matching on it.)
    if matches!(action, MigrateAction::Revert | MigrateAction::Redo)
        && !db::migration_status(&mut conn)?
            .iter()
            .any(|migration| migration.applied)
    {
        anyhow::bail!(
            "no migrations are applied to database {:?}, so there is nothing to revert; \
             apply them with `storefront migrate run`",
            url.database_name()
        );
    }
    match action {
        MigrateAction::Run => {
            db::check_unmodified(&mut conn, config.migrations_allow_modified)?;
            let applied = db::run_pending_migrations(&mut conn)?;
            if applied.is_empty() {
                println!("Nothing to do: every migration is applied.");
            }
            for version in applied {
                println!("Applied {version}");
            }
        }
        MigrateAction::Revert => println!("Reverted {}", db::revert_last_migration(&mut conn)?),
        MigrateAction::Redo => println!("Redid {}", db::redo_last_migration(&mut conn)?),
        MigrateAction::Status => print_status(&db::migration_status(&mut conn)?),
    }
    Ok(())
}

fn print_status(migrations: &[db::MigrationState]) {
    for migration in migrations {
        let state = match (migration.applied, migration.modified) {
            (true, true) => "modified",
            (true, false) => "applied",
            (false, _) => "pending",
        };
        println!("{state:<8} {}", migration.name);
    }
}

fn promote(username: &str, config: &Config) -> anyhow::Result<()> {
    let mut conn = db::establish(&db::connection_url(&config.database))?;
    match users::set_admin(&mut conn, username, true)? {
        Some(user) => {
            println!("{} (id {}) is now an admin", user.username, user.id);
            Ok(())
        }
        None => anyhow::bail!("no user named {username:?}"),
    }
}

fn seed(users: usize, products: usize, config: &Config) -> anyhow::Result<()> {
    // An operator's command: the owner's URL (it also refreshes statistics).
    let url = db::connection_url(&config.migration_database());
    db::prepare_database(&url, config.migrations_allow_modified)?;
    let password = Password::parse(seed::SEED_PASSWORD).map_err(anyhow::Error::msg)?;
    let password_hash = hash_blocking(&password).map_err(|err| anyhow::anyhow!("{err}"))?;
    let mut conn = db::establish(&url)?;
    let started = std::time::Instant::now();
    let report = seed::seed(&mut conn, users, products, &password_hash)?;
    seed::refresh_statistics(&mut conn)?;
    println!(
        "Seeded {} users, {} products ({} listings in a tree of {} categories; {} variants \
         in {} groups), {} open carts and {} orders with {} items in {:.1?} \
         (password for every user: {})",
        report.users,
        report.products,
        report.category_listings,
        report.categories,
        report.variants,
        report.product_groups,
        report.carts,
        report.orders,
        report.cart_items,
        started.elapsed(),
        seed::SEED_PASSWORD
    );
    Ok(())
}

fn schema_doc(output: Option<std::path::PathBuf>, config: &Config) -> anyhow::Result<()> {
    let mut conn = db::establish(&db::connection_url(&config.database))?;
    let document = schema_doc::render(&mut conn)?;
    match output {
        Some(path) => std::fs::write(&path, document)
            .map_err(|err| anyhow::anyhow!("cannot write {}: {err}", path.display()))?,
        None => print!("{document}"),
    }
    Ok(())
}
