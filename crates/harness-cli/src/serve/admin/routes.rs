//! The admin API's routes: the one [`Route`] enum, the one [`route`] function, and the list the
//! error bodies quote. A path is matched exactly (no trailing slash); the query is the
//! handler's business.

use http::Method;

/// Every admin operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// `GET /health`: the server answers.
    Health,
    /// `GET /world`: the current world as a world file.
    World,
    /// `PUT /world`: serve another world (a world file), whose hosts may differ.
    LoadWorld,
    /// `POST /changes`: apply a batch of changes, all or nothing.
    Changes,
    /// `POST /faults`: add fault rules.
    AddFaults,
    /// `DELETE /faults`: remove every fault rule.
    ClearFaults,
    /// `GET /clock`: the fakes' time.
    Clock,
    /// `POST /clock/advance`: move the fakes' time forward.
    AdvanceClock,
    /// `GET /journal`: the redacted journal, filtered; `?follow` streams it.
    Journal,
    /// `DELETE /journal`: forget the journal.
    ClearJournal,
    /// `POST /reset`: everything back to the world as loaded.
    Reset,
}

/// Every route as `(method, path, route)`, in the order error bodies list them.
pub(crate) const ROUTES: &[(Method, &str, Route)] = &[
    (Method::GET, "/health", Route::Health),
    (Method::GET, "/world", Route::World),
    (Method::PUT, "/world", Route::LoadWorld),
    (Method::POST, "/changes", Route::Changes),
    (Method::POST, "/faults", Route::AddFaults),
    (Method::DELETE, "/faults", Route::ClearFaults),
    (Method::GET, "/clock", Route::Clock),
    (Method::POST, "/clock/advance", Route::AdvanceClock),
    (Method::GET, "/journal", Route::Journal),
    (Method::DELETE, "/journal", Route::ClearJournal),
    (Method::POST, "/reset", Route::Reset),
];

/// Why a request matches no route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum NoRoute {
    /// No route has this path.
    NotFound,
    /// The path exists, for these other methods (the `Allow` header).
    MethodNotAllowed {
        /// The methods the path takes, comma-separated.
        allow: String,
    },
}

/// The route for `method` and `path`. `HEAD` is not served: nothing here is worth probing
/// without its body.
pub(crate) fn route(method: &Method, path: &str) -> Result<Route, NoRoute> {
    let mut allowed = Vec::new();
    for (route_method, route_path, route) in ROUTES {
        if *route_path != path {
            continue;
        }
        if route_method == method {
            return Ok(*route);
        }
        allowed.push(route_method.as_str());
    }
    if allowed.is_empty() {
        Err(NoRoute::NotFound)
    } else {
        Err(NoRoute::MethodNotAllowed {
            allow: allowed.join(", "),
        })
    }
}

/// `"GET /health"`-style lines for every route, for error bodies.
pub(crate) fn supported() -> Vec<String> {
    ROUTES
        .iter()
        .map(|(method, path, _)| format!("{method} {path}"))
        .collect()
}
