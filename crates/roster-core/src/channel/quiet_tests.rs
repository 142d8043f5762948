use super::*;
use serde_json::json;
use time::macros::datetime;

fn hours(tz: &str, windows: serde_json::Value) -> QuietHours {
    serde_json::from_value(json!({ "timezone": tz, "windows": windows })).unwrap()
}

fn codes(q: &QuietHours) -> Vec<(String, &'static str)> {
    q.validate().err().map(|e| e.0.into_iter().map(|f| (f.field, f.code)).collect()).unwrap_or_default()
}

#[test]
fn validation() {
    let ok = hours("Europe/Berlin", json!([{"days": ["mon", "tue"], "start": "22:00", "end": "07:00"}]));
    assert!(ok.validate().is_ok());
    assert_eq!(
        codes(&hours("Mars/Olympus", json!([]))),
        [("timezone".to_owned(), "invalid_timezone"), ("windows".to_owned(), "required"),]
    );
    assert_eq!(
        codes(&hours("", ok.windows.clone().into_iter().map(|w| serde_json::to_value(w).unwrap()).collect())),
        [("timezone".to_owned(), "invalid_timezone")]
    );
    let bad_windows = hours(
        "UTC",
        json!([
            {"days": [], "start": "01:00", "end": "02:00"},
            {"days": ["sun"], "start": "09:00", "end": "09:00"},
        ]),
    );
    assert_eq!(
        codes(&bad_windows),
        [("windows[0].days".to_owned(), "required"), ("windows[1].end".to_owned(), "empty_window"),]
    );
    let fourteen: Vec<_> =
        (0..14).map(|i| json!({"days": ["mon"], "start": format!("{i:02}:00"), "end": format!("{i:02}:30")})).collect();
    assert!(hours("UTC", json!(fourteen)).validate().is_ok());
    let mut fifteen = fourteen.clone();
    fifteen.push(json!({"days": ["sun"], "start": "20:00", "end": "21:00"}));
    assert_eq!(codes(&hours("UTC", json!(fifteen))), [("windows".to_owned(), "too_many")]);
    let mut errors = FieldErrors::default();
    hours("Nowhere", json!([{"days": ["sun"], "start": "09:00", "end": "10:00"}]))
        .check_into(&mut errors, "quiet_hours.");
    assert_eq!(errors.0[0].field, "quiet_hours.timezone");
    assert!(errors.0[0].message.contains("Europe/Berlin"));
}

#[test]
fn wire_form() {
    assert!(serde_json::from_value::<QuietHours>(json!({"timezone": "UTC", "windows": [
        {"days": ["monday"], "start": "22:00", "end": "07:00"}]}))
    .is_err());
    assert!(serde_json::from_value::<QuietHours>(json!({"timezone": "UTC", "windows": [
        {"days": ["mon"], "start": "10pm", "end": "07:00"}]}))
    .is_err());
    let q = hours("Asia/Tokyo", json!([{"days": ["sat", "sun"], "start": "00:00", "end": "09:30"}]));
    let back: QuietHours = serde_json::from_value(serde_json::to_value(&q).unwrap()).unwrap();
    assert_eq!(back, q);
}

#[test]
fn same_day_window() {
    // 2025-06-02 is a Monday; Berlin is UTC+2 in June.
    let q = hours(
        "Europe/Berlin",
        json!([{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "12:00", "end": "13:00"}]),
    );
    assert_eq!(q.quiet_until(datetime!(2025-06-02 10:30 UTC)), Some(datetime!(2025-06-02 11:00 UTC)));
    assert_eq!(q.quiet_until(datetime!(2025-06-02 10:00 UTC)), Some(datetime!(2025-06-02 11:00 UTC)));
    assert_eq!(q.quiet_until(datetime!(2025-06-02 09:59:59 UTC)), None);
    assert_eq!(q.quiet_until(datetime!(2025-06-02 11:00 UTC)), None);
    // Saturday is not listed.
    assert_eq!(q.quiet_until(datetime!(2025-06-07 10:30 UTC)), None);
    // The caller's offset does not matter, only the instant.
    assert_eq!(q.quiet_until(datetime!(2025-06-02 05:30 -5)), Some(datetime!(2025-06-02 11:00 UTC)));
}

#[test]
fn window_across_midnight() {
    // 2025-06-06 is a Friday; New York is UTC-4 in June.
    let q = hours("America/New_York", json!([{"days": ["fri"], "start": "22:00", "end": "07:00"}]));
    let end = Some(datetime!(2025-06-07 11:00 UTC)); // Saturday 07:00 EDT
    assert_eq!(q.quiet_until(datetime!(2025-06-07 02:00 UTC)), end); // Fri 22:00
    assert_eq!(q.quiet_until(datetime!(2025-06-07 03:00 UTC)), end); // Fri 23:00
    assert_eq!(q.quiet_until(datetime!(2025-06-07 10:59 UTC)), end); // Sat 06:59
    assert_eq!(q.quiet_until(datetime!(2025-06-07 11:00 UTC)), None);
    assert_eq!(q.quiet_until(datetime!(2025-06-07 01:59 UTC)), None); // Fri 21:59
    assert_eq!(q.quiet_until(datetime!(2025-06-08 03:00 UTC)), None); // Sat 23:00: Saturday is not listed
    assert_eq!(q.quiet_until(datetime!(2025-06-06 09:00 UTC)), None); // Fri 05:00 belongs to Thursday's night

    // Sunday night runs into Monday morning across the week's end.
    let sun = hours("UTC", json!([{"days": ["sun"], "start": "23:00", "end": "01:00"}]));
    assert_eq!(sun.quiet_until(datetime!(2025-06-09 00:30 UTC)), Some(datetime!(2025-06-09 01:00 UTC)));
}

#[test]
fn spring_forward_in_berlin() {
    // On Sunday 2025-03-30 Berlin's clocks jump from 02:00 CET to 03:00 CEST (01:00 UTC).
    let night = hours("Europe/Berlin", json!([{"days": ["sat"], "start": "22:00", "end": "07:00"}]));
    // Saturday 23:00 CET; the night ends at 07:00 CEST, 05:00 UTC, not 06:00.
    assert_eq!(night.quiet_until(datetime!(2025-03-29 22:00 UTC)), Some(datetime!(2025-03-30 05:00 UTC)));
    assert_eq!(night.quiet_until(datetime!(2025-03-30 04:59 UTC)), Some(datetime!(2025-03-30 05:00 UTC)));
    assert_eq!(night.quiet_until(datetime!(2025-03-30 05:00 UTC)), None);
    // An end the clocks skip ends the window when they jump.
    let skipped_end = hours("Europe/Berlin", json!([{"days": ["sun"], "start": "01:00", "end": "02:30"}]));
    assert_eq!(skipped_end.quiet_until(datetime!(2025-03-30 00:45 UTC)), Some(datetime!(2025-03-30 01:00 UTC)));
    assert_eq!(skipped_end.quiet_until(datetime!(2025-03-30 01:00 UTC)), None);
    // A start the clocks skip still counts once the clock reads later.
    let skipped_start = hours("Europe/Berlin", json!([{"days": ["sun"], "start": "02:15", "end": "06:00"}]));
    assert_eq!(skipped_start.quiet_until(datetime!(2025-03-30 00:59 UTC)), None);
    assert_eq!(skipped_start.quiet_until(datetime!(2025-03-30 01:10 UTC)), Some(datetime!(2025-03-30 04:00 UTC)));
}

#[test]
fn fall_back_in_berlin() {
    // On Sunday 2025-10-26 Berlin's clocks go back from 03:00 CEST to 02:00 CET (01:00 UTC).
    let night = hours("Europe/Berlin", json!([{"days": ["sat"], "start": "22:00", "end": "07:00"}]));
    assert_eq!(night.quiet_until(datetime!(2025-10-25 21:00 UTC)), Some(datetime!(2025-10-26 06:00 UTC)));
    // The repeated hour is judged by the clock each time it passes.
    let repeated = hours("Europe/Berlin", json!([{"days": ["sun"], "start": "01:00", "end": "02:30"}]));
    assert_eq!(repeated.quiet_until(datetime!(2025-10-26 00:10 UTC)), Some(datetime!(2025-10-26 00:30 UTC)));
    assert_eq!(repeated.quiet_until(datetime!(2025-10-26 00:45 UTC)), None); // 02:45 CEST
    assert_eq!(repeated.quiet_until(datetime!(2025-10-26 01:10 UTC)), Some(datetime!(2025-10-26 01:30 UTC)));
}

#[test]
fn touching_and_overlapping_windows_chain() {
    // 2025-06-02 is a Monday.
    let q = hours(
        "UTC",
        json!([
            {"days": ["mon"], "start": "22:00", "end": "07:00"},
            {"days": ["tue"], "start": "07:00", "end": "09:00"},
            {"days": ["tue"], "start": "08:30", "end": "10:00"},
            {"days": ["tue"], "start": "06:00", "end": "06:30"},
        ]),
    );
    assert_eq!(q.quiet_until(datetime!(2025-06-02 23:00 UTC)), Some(datetime!(2025-06-03 10:00 UTC)));
    assert_eq!(q.quiet_until(datetime!(2025-06-03 06:10 UTC)), Some(datetime!(2025-06-03 10:00 UTC)));
    // Always quiet: the answer is still a finite time in the future.
    let always = hours(
        "UTC",
        json!([{"days": ["mon","tue","wed","thu","fri","sat","sun"], "start": "00:00", "end": "12:00"},
        {"days": ["mon","tue","wed","thu","fri","sat","sun"], "start": "12:00", "end": "00:00"}]),
    );
    let now = datetime!(2025-06-02 03:00 UTC);
    assert!(always.quiet_until(now).is_some_and(|t| t > now));
}

#[test]
fn unknown_zone_is_never_quiet() {
    let q = hours("Nowhere/Atlantis", json!([{"days": ["mon"], "start": "00:00", "end": "23:59"}]));
    assert_eq!(q.quiet_until(datetime!(2025-06-02 12:00 UTC)), None);
}
