//! The console's fault presets: the failures a presenter most often wants to show, each one a
//! fault rule in fake-core's `FaultRule` JSON shape, added through the admin API's
//! `POST /faults`. The throttle answers as Dataverse's service protection does (429 with
//! `Retry-After` and the OData error of the request limit).

use serde_json::{Value, json};

/// A preset: its form's id and words, and the rule it adds.
pub(super) struct Preset {
    /// The form's `preset` value (`throttle`).
    pub(super) id: &'static str,
    /// The words before the count (or all of them when the preset is not counted).
    pub(super) before: &'static str,
    /// The words after the count.
    pub(super) after: &'static str,
    /// Whether the form asks how many requests (default 3).
    pub(super) counted: bool,
    /// The rule for `count` requests.
    rule: fn(u64) -> Value,
}

impl Preset {
    /// The fault rule for `count` matching requests.
    pub(super) fn rule(&self, count: u64) -> Value {
        (self.rule)(count)
    }

    /// The notice once it is added.
    pub(super) fn notice(&self, count: u64) -> String {
        if self.counted {
            format!("Fault added: {} {count} {}.", self.before, self.after)
        } else {
            format!("Fault added: {}.", self.before)
        }
    }
}

/// Every preset, in the order the console lists them.
pub(super) const PRESETS: &[Preset] = &[
    Preset {
        id: "throttle",
        before: "Throttle the next",
        after: "Dataverse requests (429, Retry-After 5 s)",
        counted: true,
        rule: throttle,
    },
    Preset {
        id: "entra-unavailable",
        before: "Entra ID answers the next",
        after: "token requests with 503 (Retry-After 5 s)",
        counted: true,
        rule: token_unavailable,
    },
    Preset {
        id: "slow-dataverse",
        before: "Delay the next",
        after: "Dataverse requests by 3 s",
        counted: true,
        rule: slow_dataverse,
    },
    Preset {
        id: "drop-connection",
        before: "Drop the connection of the next Dataverse request",
        after: "",
        counted: false,
        rule: drop_connection,
    },
];

/// The preset called `id`.
pub(super) fn preset(id: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|preset| preset.id == id)
}

fn throttle(count: u64) -> Value {
    json!({
        "name": format!("console: throttle {count}"),
        "service": "dataverse",
        "times": count,
        "action": {
            "kind": "respond",
            "status": 429,
            "headers": {
                "Retry-After": "5",
                "Content-Type": "application/json; odata.metadata=minimal",
            },
            "body": r#"{"error":{"code":"0x80072322","message":"Number of requests exceeded the limit of 6000 over time window of 300 seconds."}}"#,
        },
    })
}

fn token_unavailable(count: u64) -> Value {
    json!({
        "name": format!("console: Entra ID unavailable {count}"),
        "service": "entra",
        "path": "*/token",
        "times": count,
        "action": {
            "kind": "respond",
            "status": 503,
            "headers": { "Retry-After": "5", "Content-Type": "text/plain" },
            "body": "Service Unavailable",
        },
    })
}

fn slow_dataverse(count: u64) -> Value {
    json!({
        "name": format!("console: slow {count}"),
        "service": "dataverse",
        "times": count,
        "action": { "kind": "delay", "millis": 3000 },
    })
}

fn drop_connection(_: u64) -> Value {
    json!({
        "name": "console: dropped connection",
        "service": "dataverse",
        "times": 1,
        "action": { "kind": "close_connection" },
    })
}
