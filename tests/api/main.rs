//! HTTP tests: the real server on port 0, driven as a front end would drive it. One test
//! binary for all API modules, so the crate is linked once.

#[path = "../common/mod.rs"]
mod common;

mod abuse;
mod binary;
mod cart;
mod categories;
mod checkout;
mod conditional;
mod cors;
mod document;
mod drain;
mod errors;
mod events;
mod faults;
mod guest_carts;
mod health;
mod helpers;
mod jobs;
mod ledger;
mod memory;
mod operations;
mod order_races;
mod orders;
mod payment_gateway;
mod payment_provider;
mod payments;
mod products;
mod replica_lag;
mod roles;
mod scale_out;
mod search;
mod sessions;
mod totals;
mod users;
mod variants;
mod webhooks;
