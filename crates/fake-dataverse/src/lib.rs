//! A fake Dataverse Web API (being written; see issue 3).

mod odata;
pub mod schema;
