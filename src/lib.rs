//! storefront: the backend of an online shop. REST/JSON over actix-web 4, Diesel 2 and
//! PostgreSQL. `main.rs` only parses the command line; everything else is here so tests
//! can start the real server on port 0.

pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod gateway;
pub mod http;
pub mod jobs;
pub mod models;
pub mod openapi;
pub mod outbound;
pub mod payments;
pub mod repository;
pub mod routes;
pub mod schema;
pub mod schema_doc;
pub mod shutdown;
pub mod startup;
pub mod telemetry;
