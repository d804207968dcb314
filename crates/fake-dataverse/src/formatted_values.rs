//! The `OData.Community.Display.V1.FormattedValue` texts (and numbers in messages), in US
//! English as Dataverse prints them for an en-US user: money, grouped numbers, dates.

/// `$20,000.00` (US English, the base currency dollars).
pub(crate) fn format_money(amount: f64) -> String {
    let cents = (amount * 100.0).round() as i64;
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.abs();
    format!("{sign}${}.{:02}", format_number(cents / 100), cents % 100)
}

/// `1200000` → `1,200,000` (US English grouping, as Dataverse prints numbers and limits).
pub(crate) fn format_number(value: i64) -> String {
    let digits = value.abs().to_string();
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    if value < 0 {
        format!("-{grouped}")
    } else {
        grouped
    }
}

/// `2024-05-01T10:00:00Z` → `5/1/2024 10:00 AM` (US English, UTC).
pub(crate) fn format_date_time(text: &str) -> Option<String> {
    let time =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    let (hour, meridiem) = match time.hour() {
        0 => (12, "AM"),
        hour @ 1..=11 => (hour, "AM"),
        12 => (12, "PM"),
        hour => (hour - 12, "PM"),
    };
    Some(format!(
        "{}/{}/{} {hour}:{:02} {meridiem}",
        u8::from(time.month()),
        time.day(),
        time.year(),
        time.minute()
    ))
}
