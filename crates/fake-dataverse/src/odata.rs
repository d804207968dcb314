//! The OData query engine (being written).
