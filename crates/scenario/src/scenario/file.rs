//! The scenario file as written: serde types that mirror the TOML one to one, with spans on
//! every value the validator may complain about. Nothing here checks meaning; `validate.rs`
//! does. Unknown fields are errors: we write every scenario file, so a typo must fail loudly.
//! `[[faults]]` and a `fault` step's `add` deserialize straight into `fake_core::FaultRule`, as
//! in world files; [`StepFaultSpans`] reads the same rules again with positions for checking.

use std::collections::BTreeMap;

use fake_core::FaultRule;
use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use toml::Spanned;

use super::{Outcome, SecretPart};

/// The whole file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScenarioFile {
    /// Required here; its value is checked by the world's `VersionProbe` before this type is
    /// parsed.
    #[expect(
        dead_code,
        reason = "only its presence matters once the probe has passed"
    )]
    pub(crate) version: IgnoredAny,
    pub(crate) name: Spanned<String>,
    pub(crate) description: Spanned<String>,
    pub(crate) world: Spanned<String>,
    #[serde(default)]
    pub(crate) tables: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub(crate) network: Option<NetworkFile>,
    pub(crate) form: FormFile,
    /// `[forms.<name>]`: more forms, which steps name with `source = "<name>"`.
    #[serde(default)]
    pub(crate) forms: BTreeMap<String, FormFile>,
    /// `[[faults]]`, in fake-core's own shape.
    #[serde(default)]
    pub(crate) faults: Vec<FaultRule>,
    #[serde(default)]
    pub(crate) steps: Option<Spanned<Vec<Spanned<StepFile>>>>,
}

/// `[network]`: the flow's network settings that a scenario may change.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NetworkFile {
    pub(crate) request_timeout_ms: Option<Spanned<u64>>,
    pub(crate) trust: Option<crate::scenario::Trust>,
}

/// `[form]`: the five fields as typed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FormFile {
    pub(crate) name: String,
    pub(crate) environment_url: String,
    pub(crate) tenant_id: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: Spanned<SecretFile>,
}

/// A secret: a literal string, or a reference to a secret of the world.
pub(crate) enum SecretFile {
    /// `"Qm28Q~..."`: typed as is.
    Literal(String),
    /// `{ app = "importer", secret = "expired", part = "id"?, before = " "?, after = "\n"? }`.
    Reference(SecretReferenceFile),
}

/// `{ app, secret, part?, before?, after? }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SecretReferenceFile {
    pub(crate) app: Spanned<String>,
    pub(crate) secret: Spanned<String>,
    pub(crate) part: Option<SecretPart>,
    /// Typed before the value, as a paste drags along (`" "`).
    #[serde(default)]
    pub(crate) before: String,
    /// Typed after the value (`"\n"`).
    #[serde(default)]
    pub(crate) after: String,
}

// By hand rather than `#[serde(untagged)]`: untagged enums answer a typo in the table with
// "data did not match any variant", while this keeps the inner table's own error and position.
impl<'de> Deserialize<'de> for SecretFile {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<SecretFile, D::Error> {
        struct SecretVisitor;

        impl<'de> Visitor<'de> for SecretVisitor {
            type Value = SecretFile;

            fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str(
                    r#"a string, or a table like `{ app = "importer", secret = "current" }`"#,
                )
            }

            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<SecretFile, E> {
                Ok(SecretFile::Literal(value.to_owned()))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<SecretFile, A::Error> {
                SecretReferenceFile::deserialize(MapAccessDeserializer::new(map))
                    .map(SecretFile::Reference)
            }
        }

        deserializer.deserialize_any(SecretVisitor)
    }
}

/// `[[steps]]`: one flat table for every action, so that a key in the wrong action is reported
/// by name and position (an internally tagged enum would lose both).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StepFile {
    pub(crate) action: Spanned<ActionFile>,
    pub(crate) new_secret: Option<Spanned<SecretFile>>,
    pub(crate) seconds: Option<Spanned<u64>>,
    pub(crate) until: Option<Spanned<String>>,
    pub(crate) expect: Option<Spanned<ExpectFile>>,
    /// The step's own form, instead of `[form]`.
    pub(crate) form: Option<Spanned<FormFile>>,
    /// The `[forms.<name>]` table the step uses instead of `[form]`.
    pub(crate) source: Option<Spanned<String>>,
    /// `fault`: rules to append.
    pub(crate) add: Option<Spanned<Vec<FaultRule>>>,
    /// `fault`: remove every rule first.
    pub(crate) clear: Option<Spanned<bool>>,
    /// `change`: the changes, in the vocabulary `serve`'s admin API also takes.
    pub(crate) changes: Option<Spanned<Vec<Spanned<crate::Change>>>>,
}

/// The positioned values of each step's `add` rules, read from the whole text a second time
/// (a rule deserializes into `FaultRule` once, and the validator needs its positions too).
#[derive(Deserialize)]
pub(crate) struct StepFaultSpans {
    #[serde(default)]
    pub(crate) steps: Vec<StepFaultSpan>,
}

/// One step's `add`, positioned.
#[derive(Deserialize)]
pub(crate) struct StepFaultSpan {
    #[serde(default)]
    pub(crate) add: Vec<crate::world::FaultRuleSpans>,
}

/// The action names.
#[derive(Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ActionFile {
    Add,
    Test,
    RotateSecret,
    Remove,
    AdvanceClock,
    Fault,
    Change,
}

impl ActionFile {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ActionFile::Add => "add",
            ActionFile::Test => "test",
            ActionFile::RotateSecret => "rotate_secret",
            ActionFile::Remove => "remove",
            ActionFile::AdvanceClock => "advance_clock",
            ActionFile::Fault => "fault",
            ActionFile::Change => "change",
        }
    }
}

/// `expect = { outcome, problem?, fields?, warnings?, check_warnings?, waited_seconds?,
/// message?, fix?, requests?, sources? }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExpectFile {
    pub(crate) outcome: Spanned<Outcome>,
    pub(crate) problem: Option<Spanned<String>>,
    pub(crate) fields: Option<Spanned<Vec<Spanned<String>>>>,
    pub(crate) warnings: Option<Spanned<Vec<Spanned<String>>>>,
    pub(crate) check_warnings: Option<Spanned<Vec<Spanned<String>>>>,
    pub(crate) waited_seconds: Option<Spanned<u64>>,
    pub(crate) message: Option<Spanned<String>>,
    pub(crate) fix: Option<Spanned<String>>,
    pub(crate) requests: Option<Spanned<Vec<Spanned<RequestCountFile>>>>,
    pub(crate) sources: Option<Spanned<Vec<Spanned<String>>>>,
}

/// `{ host?, path?, count }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RequestCountFile {
    pub(crate) host: Option<Spanned<String>>,
    pub(crate) path: Option<Spanned<String>>,
    pub(crate) count: Spanned<u64>,
}
