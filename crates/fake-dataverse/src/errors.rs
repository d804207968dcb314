//! Every Dataverse error this fake answers with, one row each in [`ErrorCode`]: the hex code on
//! the wire, the HTTP status and the `ApiExceptionMessageName` the annotations show. Call sites
//! name a variant (`ApiError::new(ErrorCode::ObjectDoesNotExist, message)`), so a wrong or
//! mistyped code does not compile. Fixed messages live in the row too ([`ApiError::fixed`]);
//! the others stay at the call sites, which quote the request.
//!
//! [`ApiError::fixed`]: crate::response::ApiError::fixed

use http::StatusCode;

/// Declares [`ErrorCode`] and its table from one row per code: `Variant => (hex, status, name)`,
/// with the message as a fourth item where Dataverse's message is fixed.
macro_rules! error_codes {
    (@message) => { None };
    (@message $message:literal) => { Some($message) };
    ($($(#[doc = $doc:literal])* $variant:ident => ($hex:literal, $status:ident, $name:literal $(, $message:literal)?),)*) => {
        /// A Dataverse error: hex code, HTTP status and exception name, from one row.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum ErrorCode {
            $($(#[doc = $doc])* $variant,)*
        }

        impl ErrorCode {
            /// Every code, in table order.
            #[cfg(test)]
            pub(crate) const ALL: &[ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The row: (hex code, status, exception name).
            const fn row(self) -> (&'static str, StatusCode, &'static str) {
                match self {
                    $(ErrorCode::$variant => ($hex, StatusCode::$status, $name),)*
                }
            }

            /// The message, for codes whose message never varies.
            pub(crate) const fn fixed_message(self) -> Option<&'static str> {
                match self {
                    $(ErrorCode::$variant => error_codes!(@message $($message)?),)*
                }
            }
        }

        /// Every Dataverse error this fake answers with, in table order: what tools list
        /// (`d365-harness coverage`) and recognise in pasted error bodies.
        pub const ERROR_CODES: &[ErrorCodeEntry] = &[$(ErrorCodeEntry {
            variant: stringify!($variant),
            code: $hex,
            status: StatusCode::$status.as_u16(),
            name: $name,
            message: error_codes!(@message $($message)?),
        },)*];
    };
}

error_codes! {
    /// 500 for a failure inside the fake (a body that does not serialize).
    Unexpected => ("0x80040216", INTERNAL_SERVER_ERROR, "UnExpected"),
    /// 501 for what Dataverse has but this fake does not implement (writes, some expands).
    NotSupported => ("0x80040216", NOT_IMPLEMENTED, "NotSupported"),
    /// 503 while the runtime shuts down under a running scan (its body has no annotations,
    /// so the name is never shown).
    ShuttingDown => (
        "0x80040216",
        SERVICE_UNAVAILABLE,
        "ServiceUnavailable",
        "The fake Dataverse (d365-harness) is shutting down."
    ),
    /// 400 for a malformed request or query (the default of `QueryOptions::error_code` and
    /// `Switches::property_not_found_code`).
    BadRequest => ("0x80060888", BAD_REQUEST, "BadRequest"),
    /// 501 for a query feature this fake lacks; the code is the query error code.
    QueryNotSupported => ("0x80060888", NOT_IMPLEMENTED, "NotSupported"),
    /// 404 for a row, user or table definition that does not exist.
    ObjectDoesNotExist => ("0x80040217", NOT_FOUND, "ObjectDoesNotExist"),
    /// 404 for an unknown segment (`Switches::segment_not_found_code`).
    SegmentNotFound => ("0x8006088a", NOT_FOUND, "ResourceNotFound"),
    /// 404 without a code: no HTTP resource matches (a function called with another method).
    NoHttpResource => ("", NOT_FOUND, "ResourceNotFound"),
    /// 403 for a missing privilege, and for a user without roles (`Switches::zero_roles_code`).
    PrivilegeDenied => ("0x80040220", FORBIDDEN, "PrivilegeDenied"),
    /// 403 when the privilege exists but its depth does not reach the row.
    PrincipalPrivilegeDenied => ("0x80048306", FORBIDDEN, "PrincipalPrivilegeDenied"),
    /// 403 when no application user has the token's `appid`.
    UserNotMemberOfOrg => (
        "0x80072560",
        FORBIDDEN,
        "UserNotMemberOfOrg",
        "The user is not a member of the organization."
    ),
    /// 403 for a disabled application user (`Switches::disabled_user_code`).
    UserDisabled => (
        "0x80040225",
        FORBIDDEN,
        "unManagedidsusernotenabled",
        "The specified user is either disabled or is not a member of any business unit."
    ),
    /// 403 when the environment is in administration mode and the user is no administrator.
    AdminOnlyMode => (
        "0x8004A113",
        FORBIDDEN,
        "UserDoesNotHaveAdminOnlyModePermissions",
        "User does not have required privileges (or role membership) to access the org when it is in Admin Only mode."
    ),
    /// 500 when a query would scan more rows than the scan budget allows.
    SqlTimeout => ("0x80044151", INTERNAL_SERVER_ERROR, "SqlTimeout"),
    /// 429: the number of requests in the window exceeded the limit.
    RequestsExceeded => ("0x80072322", TOO_MANY_REQUESTS, "TooManyRequests"),
    /// 429: the combined execution time in the window exceeded the limit.
    ExecutionTimeExceeded => ("0x80072321", TOO_MANY_REQUESTS, "TooManyRequests"),
    /// 429: too many concurrent requests.
    ConcurrencyExceeded => ("0x80072326", TOO_MANY_REQUESTS, "TooManyRequests"),
}

/// One row of the [`ERROR_CODES`] table, public for tools: the fake's own use goes through the
/// crate-private `ErrorCode`, which makes a wrong code fail to compile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorCodeEntry {
    /// The row's name in the table (`PrivilegeDenied`); several rows may share a code.
    pub variant: &'static str,
    /// The hex code on the wire (`0x80040220`; empty for a 404 without a code).
    pub code: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// `ApiExceptionMessageName` (`PrivilegeDenied`).
    pub name: &'static str,
    /// The message, when Dataverse's never varies.
    pub message: Option<&'static str>,
}

impl ErrorCode {
    /// `0x80040217`: the code on the wire (empty for [`ErrorCode::NoHttpResource`]).
    pub(crate) const fn hex(self) -> &'static str {
        self.row().0
    }

    /// The HTTP status this error is answered with.
    pub(crate) const fn status(self) -> StatusCode {
        self.row().1
    }

    /// `ApiExceptionMessageName`: `ObjectDoesNotExist`, `PrivilegeDenied`, ...
    pub(crate) const fn name(self) -> &'static str {
        self.row().2
    }

    /// The code as the signed decimal the .NET client compares against (`0x80072322` →
    /// `-2147015902`).
    pub(crate) fn decimal(self) -> String {
        let hex = self.hex().trim_start_matches("0x");
        u32::from_str_radix(hex, 16)
            .map_or_else(|_| String::new(), |code| (code as i32).to_string())
    }
}

#[cfg(test)]
mod tests;
