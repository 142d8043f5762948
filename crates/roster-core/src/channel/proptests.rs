//! Property tests: parsers never panic, normalized values are fixed points,
//! masked values never show a whole secret, quiet hours answer consistently.

use super::template::{check_template, render, tests::ctx};
use super::*;
use proptest::prelude::*;
use proptest::sample::subsequence;
use time::OffsetDateTime;

const STRICT: ValueRules = ValueRules { allow_http_webhooks: false, allow_private_targets: false };
const DEV: ValueRules = ValueRules { allow_http_webhooks: true, allow_private_targets: true };

fn any_type() -> impl Strategy<Value = ChannelType> {
    proptest::sample::select(ChannelType::ALL.to_vec())
}

/// Strings that look enough like URLs to get past the first checks.
fn url_like() -> impl Strategy<Value = String> {
    concat!(
        "(https?|ftp|HTTPS)://(\\PC{0,12}|\\[[0-9a-f:.]{0,30}\\]|[a-z0-9.-]{1,20})",
        "(:[0-9]{0,6})?(/\\PC{0,10}){0,4}(\\?\\PC{0,10})?(#\\PC{0,4})?"
    )
}

/// Well-formed https URLs whose paths and queries hold any printable characters.
fn printable_url() -> impl Strategy<Value = String> {
    concat!(
        "https://[a-z0-9-]{1,12}\\.(com|de|xn--p1ai)(:[0-9]{1,4})?",
        "(/[\\PC&&[^\\s#?]]{0,10}){0,4}(\\?[\\PC&&[^\\s#]]{0,16})?"
    )
}

/// A Workflows webhook URL, on Power Platform or on Logic Apps; `sig` is its secret.
fn teams_url(power: bool, region: &str, flow: &str, sig: &str) -> String {
    let query = "triggers/manual/paths/invoke?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0";
    if power {
        let host = format!("default{flow}.0a.environment.api.powerplatform.com:443");
        format!("https://{host}/powerautomate/automations/direct/workflows/{flow}/{query}&sig={sig}")
    } else {
        format!("https://prod-07.{region}.logic.azure.com:443/workflows/{flow}/{query}&sig={sig}")
    }
}

fn assert_fixed_point(ty: ChannelType, raw: &str, rules: &ValueRules) -> Result<(), TestCaseError> {
    if let Ok(v) = ChannelValue::parse(ty, raw, rules) {
        let again = ChannelValue::parse(ty, v.as_str(), rules);
        prop_assert_eq!(again.as_ref().ok(), Some(&v), "{} {:?} normalized to {:?}", ty, raw, v.as_str());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parsers_never_panic(ty in any_type(), raw in any::<String>(), url in url_like()) {
        for rules in [STRICT, DEV] {
            let _ = ChannelValue::parse(ty, &raw, &rules);
            let _ = ChannelValue::parse(ty, &url, &rules);
            let _ = WebhookUrl::parse(&url, &rules);
        }
        let _ = ChannelType::parse(&raw);
        let _ = ChannelType::parse_list(&raw);
        let _ = PhoneNumber::parse(&raw);
        let _ = TimeOfDay::parse(&raw);
        let _ = check_template(&raw);
        let _ = render(&raw, &ctx(), true);
        let _ = Mute::parse_json(&serde_json::Value::String(raw.clone()), OffsetDateTime::UNIX_EPOCH);
    }

    #[test]
    fn accepted_values_are_fixed_points(ty in any_type(), raw in any::<String>(), url in url_like()) {
        for rules in [STRICT, DEV] {
            assert_fixed_point(ty, &raw, &rules)?;
            assert_fixed_point(ty, &url, &rules)?;
        }
    }

    /// Paths and queries of any printable characters, which the `url` crate percent-encodes.
    #[test]
    fn encoded_webhook_urls_are_fixed_points(url in printable_url()) {
        prop_assert!(WebhookUrl::parse(&url, &STRICT).is_ok(), "{:?}", url);
        assert_fixed_point(ChannelType::Webhook, &url, &STRICT)?;
    }

    #[test]
    fn phone_numbers_normalize_to_e164(raw in "\\(?\\+[1-9]\\)?([ .()-]{0,2}[0-9]){7,14}") {
        let p = PhoneNumber::parse(&raw).unwrap();
        let want: String = raw.chars().filter(|c| *c == '+' || c.is_ascii_digit()).collect();
        prop_assert_eq!(p.as_str(), want.as_str());
        prop_assert_eq!(PhoneNumber::parse(p.as_str()).unwrap(), p);
    }

    #[test]
    fn webhook_masks_hide_the_secret(
        host in "[a-z][a-z0-9]{0,10}\\.(com|io|example)",
        first in "[a-z]{1,8}",
        secret in "[A-Za-z0-9]{16,40}",
        in_query in any::<bool>(),
    ) {
        let raw = if in_query {
            format!("https://{host}/{first}/x?token={secret}")
        } else {
            format!("https://{host}/{first}/{secret}")
        };
        let v = ChannelValue::parse(ChannelType::Webhook, &raw, &STRICT).unwrap();
        prop_assert_eq!(ChannelValue::parse(ChannelType::Webhook, v.as_str(), &STRICT).unwrap(), v.clone());
        prop_assert!(!v.masked().contains(&secret), "{}", v.masked());
        let debug = format!("{:?}", v);
        prop_assert!(!debug.contains(&secret));
    }

    #[test]
    fn service_urls_round_trip_and_mask(
        team in "T[A-Z0-9]{8,10}", bot in "B[A-Z0-9]{8,10}", slack_secret in "[A-Za-z0-9]{24}",
        discord_host in proptest::sample::select(vec!["discord.com", "discordapp.com", "ptb.discord.com"]),
        id in "[1-9][0-9]{16,18}", token in "[A-Za-z0-9_-]{60,68}",
        region in "[a-z]{4,10}", flow in "[0-9a-f]{32}", sig in "[A-Za-z0-9_-]{43}", power in any::<bool>(),
    ) {
        let teams = teams_url(power, &region, &flow, &sig);
        let slack = format!("https://hooks.slack.com/services/{team}/{bot}/{slack_secret}");
        for (ty, raw, secret) in [
            (ChannelType::Slack, slack, slack_secret.as_str()),
            (ChannelType::Discord, format!("https://{discord_host}/api/webhooks/{id}/{token}"), token.as_str()),
            (ChannelType::MsTeams, teams, sig.as_str()),
        ] {
            let v = ChannelValue::parse(ty, &raw, &STRICT).unwrap();
            prop_assert_eq!(ChannelValue::parse(ty, v.as_str(), &STRICT).unwrap(), v.clone());
            prop_assert!(v.as_str().contains(secret));
            prop_assert!(!v.masked().contains(secret), "{}", v.masked());
        }
    }

    #[test]
    fn keys_and_tokens_round_trip_and_mask(key in "[A-Za-z0-9]{32}", token in "[A-Za-z0-9:_.-]{8,300}") {
        for (ty, raw) in [(ChannelType::PagerDuty, &key), (ChannelType::PushNotification, &token)] {
            let v = ChannelValue::parse(ty, &format!(" {raw} "), &STRICT).unwrap();
            prop_assert_eq!(v.as_str(), raw.as_str());
            prop_assert_eq!(ChannelValue::parse(ty, v.as_str(), &STRICT).unwrap(), v.clone());
            prop_assert!(!v.masked().contains(raw.as_str()));
        }
    }

    #[test]
    fn quiet_until_is_the_end_of_one_quiet_stretch(
        windows in proptest::collection::vec(
            (subsequence(Weekday::ALL.to_vec(), 1..=3), 0u8..24, 0u8..60, 0u8..24, 0u8..60),
            1..=2,
        ),
        now in 1_735_689_600i64..1_767_225_600,
        frac in 0.0f64..1.0,
        berlin in any::<bool>(),
    ) {
        let windows: Vec<_> = windows.into_iter()
            .map(|(days, sh, sm, eh, em)| QuietWindow {
                days, start: TimeOfDay::new(sh, sm).unwrap(), end: TimeOfDay::new(eh, em).unwrap(),
            })
            .collect();
        let tz = if berlin { "Europe/Berlin" } else { "UTC" };
        let q = QuietHours { timezone: tz.to_owned(), windows };
        let now = OffsetDateTime::from_unix_timestamp(now).unwrap();
        if let Some(end) = q.quiet_until(now) {
            prop_assert!(end > now);
            // Two windows of up to three days never cover a whole week.
            prop_assert!(end - now <= time::Duration::days(7));
            prop_assert_eq!(q.quiet_until(end), None);
            if !berlin {
                let mid = now + (end - now) * frac;
                prop_assert_eq!(q.quiet_until(mid), Some(end));
            }
        }
    }
}
