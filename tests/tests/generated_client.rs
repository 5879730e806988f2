//! The generated client calls all three operations over real HTTP and
//! decodes what the service sends, including its deviations from the spec.

use activitylog_client::types::{
    AuditVersion, ContractNumber, EventStatus, EventStatusKnown, HttpMethod, HttpMethodKnown,
    QueueRefId,
};
use activitylog_client::{ActivityLog, Config, Credentials, RetryPolicy};
use activitylog_tests::{MockServer, Reply, fixture};

fn log_for(server: &MockServer, credentials: Credentials) -> ActivityLog {
    ActivityLog::new(
        Config::new(credentials)
            .api_url(server.url())
            .retry(RetryPolicy::none()),
    )
    .unwrap()
}

#[tokio::test]
async fn get_info_sends_get_to_the_api_root_with_bearer_auth() {
    let server = MockServer::start(|_| {
        Reply::json(r#"{"href":"https://api.ionos.com/activitylog/v1","name":"Activity Log Service API","version":"v1"}"#)
    })
    .await;
    let info = log_for(&server, Credentials::token("tok-123"))
        .info()
        .await
        .unwrap();
    assert_eq!(info.name.as_deref(), Some("Activity Log Service API"));
    assert_eq!(info.version.as_deref(), Some("v1"));
    let request = &server.requests()[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("GET", "/activitylog/v1")
    );
    assert_eq!(request.header("authorization"), Some("Bearer tok-123"));
}

#[tokio::test]
async fn get_available_contracts_decodes_the_documented_example() {
    let server = MockServer::start(|_| Reply::json(fixture("seed_contracts.json"))).await;
    let log = log_for(&server, Credentials::basic("username", "password"));
    let contracts = log.contracts().await.unwrap();
    let ids: Vec<_> = contracts.iter().map(|c| c.id).collect();
    assert_eq!(ids, [Some(12345678), Some(98765432)]);
    assert_eq!(contracts[0].type_.as_deref(), Some("contracts"));
    let request = &server.requests()[0];
    assert_eq!(request.path, "/activitylog/v1/contracts");
    // base64("username:password")
    assert_eq!(
        request.header("authorization"),
        Some("Basic dXNlcm5hbWU6cGFzc3dvcmQ=")
    );
}

#[tokio::test]
async fn get_by_contract_sends_every_parameter_and_decodes_the_documented_example() {
    let server = MockServer::start(|_| Reply::json(fixture("seed_page.json"))).await;
    let log = log_for(&server, Credentials::token("t"));
    let page = log
        .client()
        .get_by_contract()
        .contract_number(31721060)
        .date_start("2016-09-01")
        .date_end("2016-09-30T00:00:00Z")
        .offset(20)
        .limit(10)
        .send()
        .await
        .unwrap()
        .into_inner();
    let request = &server.requests()[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("GET", "/activitylog/v1/contracts/31721060")
    );
    assert_eq!(request.param("dateStart"), Some("2016-09-01"));
    assert_eq!(request.param("dateEnd"), Some("2016-09-30T00:00:00Z"));
    assert_eq!(request.param("offset"), Some("20"));
    assert_eq!(request.param("limit"), Some("10"));
    assert_eq!(request.header("authorization"), Some("Bearer t"));

    let hits = page.hits.unwrap();
    assert_eq!(hits.total, Some(1));
    let activity = hits.hits.unwrap().remove(0).source.unwrap();
    assert_eq!(
        activity.uuid.as_deref(),
        Some("c1b9b1b0-7b1b-11e6-9a41-000d3a002f99")
    );
    let principal = activity.principal.unwrap();
    assert_eq!(principal.source_ip.as_deref(), Some("203.0.113.42"));
    let identity = principal.identity.unwrap();
    assert_eq!(
        identity.contract_number,
        Some(ContractNumber::Text("31721060".into()))
    );
    let event = activity.event.unwrap();
    assert_eq!(event.type_.as_deref(), Some("RequestAccepted"));
    let resource = &event.resources.unwrap()[0];
    assert_eq!(resource.action, Some(vec!["sec.user.create".to_string()]));
    assert_eq!(
        activity.meta.unwrap().audit_version,
        Some(AuditVersion::Text("0.1".into()))
    );
}

#[tokio::test]
async fn a_page_with_every_wire_deviation_decodes_without_losing_anything() {
    let server = MockServer::start(|_| Reply::json(fixture("wire_variants_page.json"))).await;
    let log = log_for(&server, Credentials::token("t"));
    let page = log
        .client()
        .get_by_contract()
        .contract_number(31721060)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.extra.get("took"), Some(&serde_json::json!(3)));
    let hits = page.hits.unwrap();
    let events: Vec<_> = hits
        .hits
        .unwrap()
        .into_iter()
        .map(|hit| hit.source.unwrap())
        .collect();
    assert_eq!(events.len(), 4);

    let first = &events[0];
    let principal = first.principal.as_ref().unwrap();
    assert_eq!(
        principal.identity.as_ref().unwrap().contract_number,
        Some(ContractNumber::Number(31721060))
    );
    assert_eq!(
        principal.extra.get("geo"),
        Some(&serde_json::json!({"country": "DE"}))
    );
    let meta = first.meta.as_ref().unwrap();
    assert_eq!(meta.audit_version, Some(AuditVersion::Number(0.1)));
    assert_eq!(
        meta.queue_ref_id,
        Some(QueueRefId::Text("7f3a-queue".into()))
    );
    let event = first.event.as_ref().unwrap();
    assert_eq!(event.status, Some(EventStatus::Other("CANCELLED".into())));
    assert_eq!(event.message, None);
    assert_eq!(event.resources, None);
    assert_eq!(
        event.param.as_ref().unwrap().action,
        Some(HttpMethod::Other("HEAD".into()))
    );
    assert_eq!(
        first.extra.get("x-trace"),
        Some(&serde_json::json!("abc123"))
    );

    let second = &events[1];
    assert_eq!(
        second.meta.as_ref().unwrap().queue_ref_id,
        Some(QueueRefId::Number(4711))
    );
    let event = second.event.as_ref().unwrap();
    assert_eq!(
        event.status,
        Some(EventStatus::Known(EventStatusKnown::Failed))
    );
    let param = event.param.as_ref().unwrap();
    assert_eq!(param.action, Some(HttpMethod::Known(HttpMethodKnown::Post)));
    let message = &param.error.as_ref().unwrap().messages.as_ref().unwrap()[0];
    assert_eq!(
        message.extra.get("hint"),
        Some(&serde_json::json!("use ASCII"))
    );
    assert_eq!(
        event.resources.as_ref().unwrap()[0].extra.get("labels"),
        Some(&serde_json::json!(["x"]))
    );
}

#[test]
fn an_unknown_status_round_trips_as_its_original_string() {
    let status: EventStatus = serde_json::from_str(r#""CANCELLED""#).unwrap();
    assert_eq!(status, EventStatus::Other("CANCELLED".into()));
    assert_eq!(serde_json::to_string(&status).unwrap(), r#""CANCELLED""#);
    assert_eq!(status.to_string(), "CANCELLED");
    let known: EventStatus = serde_json::from_str(r#""DONE""#).unwrap();
    assert_eq!(serde_json::to_string(&known).unwrap(), r#""DONE""#);
}

#[test]
fn typed_events_keep_unknown_fields_when_written_back() {
    let text = fixture("wire_variants_page.json");
    let page: activitylog_client::types::ActivityPage = serde_json::from_str(&text).unwrap();
    let original: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut written = serde_json::to_value(&page).unwrap();
    // Everything sent comes back, except explicit nulls (absent and null mean the same).
    fn strip_nulls(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                map.retain(|_, v| !v.is_null());
                map.values_mut().for_each(strip_nulls);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip_nulls),
            _ => {}
        }
    }
    let mut expected = original;
    strip_nulls(&mut expected);
    strip_nulls(&mut written);
    assert_eq!(written, expected);
}

/// Users of the generated builders get what the service said with an
/// error, decoded: a 400's messages, not an empty body.
#[tokio::test]
async fn a_generated_builder_hands_over_the_services_error_body() {
    let server = MockServer::start(|_| {
        Reply::status(
            400,
            r#"{"httpStatus":400,"messages":[{"errorCode":"101","message":"dateStart (2024-02-01) must be before dateEnd (2024-01-01)"}]}"#,
        )
    })
    .await;
    let log = log_for(&server, Credentials::token("t"));
    let error = log
        .client()
        .get_by_contract()
        .contract_number(31721060)
        .date_start("2024-02-01")
        .date_end("2024-01-01")
        .send()
        .await
        .unwrap_err();
    let Some(status) = error.status() else {
        panic!("no status in {error:?}");
    };
    assert_eq!(status.as_u16(), 400);
    let activitylog_client::GeneratedError::ErrorResponse(response) = error else {
        panic!("not the service's error body: {error:?}");
    };
    let body = response.into_inner();
    assert_eq!(body.http_status, Some(400));
    let messages = body.messages.unwrap_or_default();
    let message = &messages[0];
    assert_eq!(message.error_code, Some(serde_json::json!("101")));
    assert!(
        message
            .message
            .as_deref()
            .is_some_and(|m| m.contains("must be before dateEnd")),
        "{message:?}"
    );
}

/// The SDK's own calls say the same in one line.
#[tokio::test]
async fn the_sdk_names_the_services_messages_for_an_error_answer() {
    let server = MockServer::start(|_| {
        Reply::status(
            409,
            r#"{"httpStatus":409,"messages":[{"errorCode":"150","message":"busy elsewhere"}]}"#,
        )
    })
    .await;
    let log = log_for(&server, Credentials::token("t"));
    let message = log.contracts().await.unwrap_err().to_string();
    assert_eq!(message, "bad request (HTTP 409): 150: busy elsewhere");
}
