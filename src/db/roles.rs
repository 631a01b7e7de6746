//! Two roles: the owner migrates, the service role serves. `grant_app_role` gives a role
//! exactly what serving needs, so a bug or an injected statement in the serving path
//! cannot drop, truncate or alter a table. See docs/operations.md, "Database roles".

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;

use super::migrations::quote_identifier;

/// Grants `role` what serving needs on the current database, and nothing else: CONNECT,
/// USAGE on the schema, row reads and writes on every table, sequence use, and the same
/// on tables and sequences that later migrations (run by this same owner) create.
/// Idempotent.
pub fn grant_app_role(conn: &mut PgConnection, role: &str) -> QueryResult<()> {
    let role = quote_identifier(role);
    let database: String = diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(
        "current_database()",
    ))
    .get_result(conn)?;
    let database = quote_identifier(&database);
    conn.batch_execute(&format!(
        "GRANT CONNECT ON DATABASE {database} TO {role};
         GRANT USAGE ON SCHEMA public TO {role};
         GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};
         GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role};
         ALTER DEFAULT PRIVILEGES IN SCHEMA public
             GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role};
         ALTER DEFAULT PRIVILEGES IN SCHEMA public
             GRANT USAGE, SELECT ON SEQUENCES TO {role};"
    ))
}

/// Why the connected role is more powerful than serving needs, if it is: a superuser,
/// or the owner of the tables.
pub fn serving_role_warning(conn: &mut PgConnection) -> QueryResult<Option<String>> {
    #[derive(QueryableByName)]
    struct Role {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        superuser: bool,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        owns_tables: bool,
    }
    let role: Role = diesel::sql_query(
        "SELECT current_user::text AS name,
                (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
                EXISTS (SELECT 1 FROM pg_tables
                        WHERE schemaname = 'public' AND tableowner = current_user) AS owns_tables",
    )
    .get_result(conn)?;
    let why = match (role.superuser, role.owns_tables) {
        (true, _) => "is a superuser",
        (false, true) => "owns the tables",
        (false, false) => return Ok(None),
    };
    Ok(Some(format!(
        "the service connects as {:?}, which {why}: a bug or an injected statement could drop \
         tables. Serve with a role made by `storefront db grant-app-role` and migrate with \
         DATABASE_MIGRATION_URL (docs/operations.md, \"Database roles\")",
        role.name
    )))
}
