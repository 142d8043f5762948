use super::*;

const STRICT: ValueRules = ValueRules { allow_http_webhooks: false, allow_private_targets: false };
const KEY: &str = "R0utingKey0123456789abcdefABCDEF";

fn parse(ty: ChannelType, raw: &str) -> Result<ChannelValue, FieldProblem> {
    ChannelValue::parse(ty, raw, &STRICT)
}

#[test]
fn each_type_normalizes_its_value() {
    for (ty, raw, want) in [
        (ChannelType::Email, " Ops@Example.COM ", "ops@example.com"),
        (ChannelType::Sms, "+994 55-123-4567", "+994551234567"),
        (ChannelType::Voice, "(+1) 415.555.0100", "+14155550100"),
        (ChannelType::Webhook, "HTTPS://Example.com:443/h?x=1", "https://example.com/h?x=1"),
        (
            ChannelType::Slack,
            " https://hooks.slack.com/services/T1/B2/abc ",
            "https://hooks.slack.com/services/T1/B2/abc",
        ),
        (ChannelType::Discord, "https://discord.com/api/webhooks/1/tok", "https://discord.com/api/webhooks/1/tok"),
        (
            ChannelType::MsTeams,
            "https://p.westus.logic.azure.com:443/workflows/1",
            "https://p.westus.logic.azure.com/workflows/1",
        ),
        (ChannelType::PagerDuty, &format!(" {KEY} "), KEY),
        (ChannelType::PushNotification, "fcm:APA91b-x_y.z", "fcm:APA91b-x_y.z"),
    ] {
        let v = parse(ty, raw).unwrap_or_else(|p| panic!("{ty} {raw:?}: {p}"));
        assert_eq!(v.channel_type(), ty);
        assert_eq!(v.as_str(), want);
        assert_eq!(parse(ty, v.as_str()).unwrap(), v, "normalized {ty} value re-parses to itself");
    }
}

#[test]
fn each_type_refuses_with_its_code() {
    for (ty, raw, code) in [
        (ChannelType::Email, "not-an-email", "invalid_email"),
        (ChannelType::Sms, "555-0100", "invalid_phone"),
        (ChannelType::Voice, "+0 123 456 789", "invalid_phone"),
        (ChannelType::Webhook, "http://example.com/h", "insecure_url"),
        (ChannelType::Webhook, "https://10.0.0.1/h", "private_target"),
        (ChannelType::Slack, "https://discord.com/api/webhooks/1/tok", "invalid_slack_url"),
        (ChannelType::Discord, "https://hooks.slack.com/services/T1/B2/abc", "invalid_discord_url"),
        (ChannelType::MsTeams, "https://example.com/workflows/1", "invalid_msteams_url"),
        (ChannelType::PagerDuty, "short", "invalid_pagerduty_key"),
        (ChannelType::PagerDuty, &format!("{KEY}x"), "invalid_pagerduty_key"),
        (ChannelType::PagerDuty, &KEY.replace('R', "-"), "invalid_pagerduty_key"),
        (ChannelType::PagerDuty, &KEY.replace('R', "é"), "invalid_pagerduty_key"),
        (ChannelType::PushNotification, "abc", "invalid_push_token"),
        (ChannelType::PushNotification, "abcdefgh/ij", "invalid_push_token"),
        (ChannelType::PushNotification, &"a".repeat(4097), "invalid_push_token"),
    ] {
        assert_eq!(parse(ty, raw).unwrap_err().code, code, "{ty} {raw:?}");
    }
    for ty in ChannelType::ALL {
        assert_eq!(parse(ty, "  ").unwrap_err().code, "required", "{ty}");
    }
    assert!(parse(ChannelType::PushNotification, &"a".repeat(4096)).is_ok());
    assert!(parse(ChannelType::PushNotification, "abcdefgh").is_ok());
}

#[test]
fn service_types_ignore_development_rules() {
    let dev = ValueRules { allow_http_webhooks: true, allow_private_targets: true };
    let raw = "http://hooks.slack.com/services/T1/B2/abc";
    assert_eq!(ChannelValue::parse(ChannelType::Slack, raw, &dev).unwrap_err().code, "insecure_url");
    assert!(ChannelValue::parse(ChannelType::Webhook, "http://localhost:9000/h", &dev).is_ok());
}

#[test]
fn masking_shows_addresses_and_hides_secrets() {
    let m = |ty, raw: &str| parse(ty, raw).unwrap().masked();
    assert_eq!(m(ChannelType::Email, "sarah@acme.com"), "sarah@acme.com");
    assert_eq!(m(ChannelType::Sms, "+1 415 555 0100"), "+14155550100");
    assert_eq!(m(ChannelType::Voice, "+14155550100"), "+14155550100");
    assert_eq!(m(ChannelType::Webhook, "https://example.com/hooks/s3cret"), "https://example.com/hooks/…");
    assert_eq!(
        m(ChannelType::Slack, "https://hooks.slack.com/services/T1/B2/s3cret"),
        "https://hooks.slack.com/services/…"
    );
    assert_eq!(m(ChannelType::Discord, "https://discord.com/api/webhooks/1/s3cret"), "https://discord.com/api/…");
    assert_eq!(
        m(ChannelType::MsTeams, "https://x.environment.api.powerplatform.com/powerautomate/a/workflows/1?sig=s3cret"),
        "https://x.environment.api.powerplatform.com/powerautomate/…"
    );
    assert_eq!(m(ChannelType::PagerDuty, KEY), "R0ut…");
    assert_eq!(m(ChannelType::PushNotification, "fcm:APA91b-x_y.z"), "fcm:AP…");
}

#[test]
fn debug_never_prints_a_secret() {
    let v = parse(ChannelType::Slack, "https://hooks.slack.com/services/T1/B2/s3cret").unwrap();
    assert_eq!(format!("{v:?}"), "ChannelValue(slack: https://hooks.slack.com/services/…)");
    assert!(!format!("{:?}", PagerDutyKey::parse(KEY).unwrap()).contains(KEY));
    assert!(!format!("{:?}", PushToken::parse("abcdefghij").unwrap()).contains("abcdefghij"));
}
