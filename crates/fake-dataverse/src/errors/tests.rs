//! The error table: codes are well-formed hex and the decimal forms are the ones Dataverse's
//! .NET client compares against.

use super::ErrorCode;

#[test]
fn every_code_is_empty_or_eight_hex_digits_with_a_name() {
    for code in ErrorCode::ALL {
        let hex = code.hex();
        assert!(
            hex.is_empty()
                || (hex.len() == 10
                    && hex.starts_with("0x")
                    && hex[2..].chars().all(|digit| digit.is_ascii_hexdigit())),
            "{code:?}: {hex}"
        );
        assert!(!code.name().is_empty(), "{code:?}");
        assert!(
            code.status().is_client_error() || code.status().is_server_error(),
            "{code:?}"
        );
    }
}

#[test]
fn throttling_codes_have_the_decimal_forms_of_the_service_protection_docs() {
    assert_eq!(ErrorCode::RequestsExceeded.decimal(), "-2147015902");
    assert_eq!(ErrorCode::ExecutionTimeExceeded.decimal(), "-2147015903");
    assert_eq!(ErrorCode::ConcurrencyExceeded.decimal(), "-2147015898");
}

#[test]
fn a_code_names_one_status_and_exception_name_per_row() {
    assert_eq!(ErrorCode::ObjectDoesNotExist.hex(), "0x80040217");
    assert_eq!(
        ErrorCode::ObjectDoesNotExist.status(),
        http::StatusCode::NOT_FOUND
    );
    assert_eq!(
        ErrorCode::PrincipalPrivilegeDenied.name(),
        "PrincipalPrivilegeDenied"
    );
}

#[test]
fn codes_answered_without_a_call_site_message_have_their_fixed_message() {
    for code in [
        ErrorCode::ShuttingDown,
        ErrorCode::UserNotMemberOfOrg,
        ErrorCode::UserDisabled,
        ErrorCode::AdminOnlyMode,
    ] {
        assert!(
            code.fixed_message()
                .is_some_and(|message| message.ends_with('.')),
            "{code:?}"
        );
    }
    assert_eq!(ErrorCode::ObjectDoesNotExist.fixed_message(), None);
}

#[test]
fn the_public_table_lists_every_row_as_the_fake_answers_it() {
    assert_eq!(super::ERROR_CODES.len(), ErrorCode::ALL.len());
    for (entry, code) in super::ERROR_CODES.iter().zip(ErrorCode::ALL) {
        assert_eq!(entry.variant, format!("{code:?}"));
        assert_eq!(entry.code, code.hex(), "{code:?}");
        assert_eq!(entry.status, code.status().as_u16(), "{code:?}");
        assert_eq!(entry.name, code.name(), "{code:?}");
        assert_eq!(entry.message, code.fixed_message(), "{code:?}");
    }
}
