// messages_test.cpp — the read API: message references, cursors, list parameters, error objects, phone health.
#include "api/messages.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api_rejection.hpp"
#include "api/phone_metrics.hpp"
#include "test_context.hpp"
#include "wagate/crypto.hpp"
#include "wagate/error.hpp"
#include "wagate/error_codes.hpp"

namespace wagate::api {
namespace {

constexpr std::string_view kUuid = "0f8e2a7c-3a9e-4b7e-9a55-0f6e3c2d1b40";

// ---- message references ----

TEST(MessageRef, UuidSidOrInvalid) {
  EXPECT_EQ(classify_message_ref(kUuid), MessageRef::Id);
  EXPECT_EQ(classify_message_ref("0F8E2A7C-3A9E-4B7E-9A55-0F6E3C2D1B40"), MessageRef::Id);
  EXPECT_EQ(classify_message_ref("SM" + std::string(32, 'a')), MessageRef::Sid);
  EXPECT_EQ(classify_message_ref("MM0123456789abcdef0123456789ABCDEF"), MessageRef::Sid);
  for (const std::string& bad : {std::string(), std::string("42"), "SM" + std::string(31, 'a'),
                                "SM" + std::string(33, 'a'), "MG" + std::string(32, 'a'), "sm" + std::string(32, 'a'),
                                "SM" + std::string(31, 'a') + "g", std::string("0f8e2a7c3a9e4b7e9a550f6e3c2d1b40"),
                                std::string("0f8e2a7c-3a9e-4b7e-9a55-0f6e3c2d1b4"),
                                std::string("0f8e2a7c-3a9e-4b7e-9a55_0f6e3c2d1b40"), std::string("../etc/passwd")}) {
    EXPECT_EQ(classify_message_ref(bad), MessageRef::Invalid) << bad;
  }
}

// ---- cursors ----

const Secret kKey = cursor_key(Secret(std::string(32, '\x11')));
constexpr std::string_view kScope = "tenant=7";

TEST(Cursor, RoundTrips) {
  for (const Cursor& c : {Cursor{0, "00000000-0000-0000-0000-000000000000"},
                          Cursor{1709251199999999, std::string(kUuid)},
                          Cursor{253402300799999999, "ffffffff-ffff-ffff-ffff-ffffffffffff"},
                          Cursor{951868800000001, "12345678-9abc-def0-1234-56789abcdef0"}}) {
    const std::string text = encode_cursor(c, kKey, kScope);
    EXPECT_EQ(text.find_first_of("+/="), std::string::npos) << text << " must be URL-safe";
    const std::optional<Cursor> back = decode_cursor(text, kKey, kScope);
    ASSERT_TRUE(back.has_value()) << text;
    EXPECT_EQ(*back, c);
  }
}

TEST(Cursor, IdComesBackCanonical) {
  const std::optional<Cursor> back =
      decode_cursor(encode_cursor({5, "0F8E2A7C-3A9E-4B7E-9A55-0F6E3C2D1B40"}, kKey, kScope), kKey, kScope);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->id, kUuid);
}

TEST(Cursor, RejectsGarbage) {
  const std::string good = encode_cursor({1709251199999999, std::string(kUuid)}, kKey, kScope);
  const std::string raw = *crypto::unbase64url(good);
  std::string wrong_version = raw;
  wrong_version[0] = 1;
  for (const std::string& bad :
       {std::string(), std::string("abc"), std::string("!!!!"), good + "A", good.substr(0, good.size() - 1),
        good + "=", crypto::base64(raw), crypto::base64url(raw.substr(0, raw.size() - 1)),
        crypto::base64url(raw + "x"), crypto::base64url(wrong_version), std::string("null"),
        std::string(" ") + good}) {
    EXPECT_FALSE(decode_cursor(bad, kKey, kScope).has_value()) << "'" << bad << "'";
  }
}

// The cursors of the first version carried no tag: anyone could write one.
TEST(Cursor, RefusesTheUnsignedFormat) {
  std::string unsigned_cursor(1, '\x01');
  unsigned_cursor += std::string(7, '\0') + '\x05' + std::string(16, '\x22');
  EXPECT_FALSE(decode_cursor(crypto::base64url(unsigned_cursor), kKey, kScope).has_value());
}

TEST(Cursor, EveryAlteredBitIsRefused) {
  const std::string raw = *crypto::unbase64url(encode_cursor({1709251199999999, std::string(kUuid)}, kKey, kScope));
  ASSERT_EQ(raw.size(), 41U);
  for (size_t byte = 0; byte < raw.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string altered = raw;
      altered[byte] = static_cast<char>(altered[byte] ^ (1 << bit));
      EXPECT_FALSE(decode_cursor(crypto::base64url(altered), kKey, kScope).has_value())
          << "byte " << byte << " bit " << bit;
    }
  }
}

TEST(Cursor, AnotherKeyOrScopeIsRefused) {
  const std::string text = encode_cursor({1709251199999999, std::string(kUuid)}, kKey, kScope);
  EXPECT_FALSE(decode_cursor(text, cursor_key(Secret(std::string(32, '\x12'))), kScope).has_value());
  EXPECT_FALSE(decode_cursor(text, kKey, "tenant=8").has_value());
  EXPECT_FALSE(decode_cursor(text, kKey, "tenant=7\nstatus=failed").has_value());
}

TEST(Cursor, KeyIsDerivedFromTheMasterKey) {
  const Secret master(std::string(32, '\x11'));
  EXPECT_EQ(cursor_key(master).reveal(), cursor_key(Secret(std::string(32, '\x11'))).reveal());
  EXPECT_NE(cursor_key(master).reveal(), cursor_key(Secret(std::string(32, '\x12'))).reveal());
  EXPECT_NE(cursor_key(master).reveal(), master.reveal());
  EXPECT_EQ(crypto::hex(cursor_key(master).reveal()),
            crypto::hex(crypto::hmac_sha256(master.reveal(), "wagate pagination cursor key v1")));
}

// A cursor is bound to the tenant and to each filter of the query it came
// from; the page size may change.
TEST(Cursor, ScopeBindsTenantAndEveryFilter) {
  const ListQuery base = parse_list_query("phone=%2B14155550123&status=failed,undelivered&direction=outbound"
                                          "&since=2024-05-01&until=2024-05-02",
                                          "1");
  const std::string scope = cursor_scope(7, base);
  EXPECT_NE(scope, cursor_scope(8, base));
  for (const char* other :
       {"status=failed,undelivered&direction=outbound&since=2024-05-01&until=2024-05-02",
        "phone=%2B14155550124&status=failed,undelivered&direction=outbound&since=2024-05-01&until=2024-05-02",
        "phone=%2B14155550123&status=failed&direction=outbound&since=2024-05-01&until=2024-05-02",
        "phone=%2B14155550123&status=failed,undelivered&direction=inbound&since=2024-05-01&until=2024-05-02",
        "phone=%2B14155550123&status=failed,undelivered&since=2024-05-01&until=2024-05-02",
        "phone=%2B14155550123&status=failed,undelivered&direction=outbound&since=2024-04-01&until=2024-05-02",
        "phone=%2B14155550123&status=failed,undelivered&direction=outbound&since=2024-05-01",
        "phone=%2B14155550123&status=failed,undelivered&direction=outbound&until=2024-05-02"}) {
    EXPECT_NE(cursor_scope(7, parse_list_query(other, "1")), scope) << other;
  }
  EXPECT_EQ(cursor_scope(7, parse_list_query("until=2024-05-02&since=2024-05-01&direction=outbound"
                                             "&status=undelivered,failed&phone=%2B14155550123&limit=7",
                                             "1")),
            scope);
  EXPECT_EQ(cursor_scope(7, parse_list_query("phone=%2B1%20415%20555%200123&status=failed,undelivered"
                                             "&direction=outbound&since=2024-05-01&until=2024-05-02",
                                             "1")),
            scope);
}

ApiError cursor_refusal(const ListQuery& query, const Secret& key, long long tenant_id) {
  try {
    (void)checked_cursor(query, key, tenant_id);
  } catch (const ApiError& e) {
    return e;
  }
  ADD_FAILURE() << "accepted";
  return ApiError(0, "", "");
}

TEST(Cursor, CheckedCursorPagesOnOnlyItsOwnQuery) {
  const Cursor place{1709251199999999, std::string(kUuid)};
  ListQuery query = parse_list_query("status=failed", "1");
  EXPECT_FALSE(checked_cursor(query, kKey, 7).has_value());

  query.cursor = encode_cursor(place, kKey, cursor_scope(7, query));
  EXPECT_EQ(checked_cursor(query, kKey, 7), place);

  const ApiError other_tenant = cursor_refusal(query, kKey, 8);
  EXPECT_EQ(other_tenant.status(), 400);
  EXPECT_EQ(other_tenant.code(), "invalid_parameter");
  EXPECT_EQ(other_tenant.field(), "cursor");
  EXPECT_NE(std::string(other_tenant.what()).find("pass next_cursor unchanged"), std::string::npos)
      << other_tenant.what();

  ListQuery other_filter = parse_list_query("status=delivered", "1");
  other_filter.cursor = query.cursor;
  EXPECT_EQ(cursor_refusal(other_filter, kKey, 7).field(), "cursor");

  ListQuery tampered = query;
  std::string raw = *crypto::unbase64url(*query.cursor);
  raw[20] = static_cast<char>(raw[20] ^ 1);  // a byte of the id
  tampered.cursor = crypto::base64url(raw);
  EXPECT_EQ(cursor_refusal(tampered, kKey, 7).field(), "cursor");

  ListQuery garbage = parse_list_query("cursor=not-a-cursor", "1");
  EXPECT_EQ(cursor_refusal(garbage, kKey, 7).field(), "cursor");
}

// ---- times, escapes ----

TEST(ParseTime, TheOneGrammarAsAPostgresLiteral) {
  EXPECT_EQ(parse_time("2024-05-01"), "2024-05-01 00:00:00.000000+00");
  EXPECT_EQ(parse_time("2024-05-01T12:00:00Z"), "2024-05-01 12:00:00.000000+00");
  EXPECT_EQ(parse_time("2024-05-01t12:00z"), "2024-05-01 12:00:00.000000+00");
  EXPECT_EQ(parse_time("2024-05-01T12:00:00.123456+02:00"), "2024-05-01 10:00:00.123456+00");
  EXPECT_EQ(parse_time("2024-02-29T00:00:00-05:30"), "2024-02-29 05:30:00.000000+00");
  for (const char* bad : {"", "now", "2024-02-30", "2024-05-01T12:00:00Z junk", "1714564800"}) {
    EXPECT_FALSE(parse_time(bad).has_value()) << bad;
  }
}

TEST(PercentDecode, KeepsPlusAndRejectsBrokenEscapes) {
  EXPECT_EQ(percent_decode("%2B14155550123"), "+14155550123");
  EXPECT_EQ(percent_decode("+14155550123"), "+14155550123");
  EXPECT_EQ(percent_decode("a%20b%2fc"), "a b/c");
  for (const char* bad : {"%", "%2", "%zz", "abc%4", "%g0"}) EXPECT_FALSE(percent_decode(bad).has_value()) << bad;
}

// ---- list parameters ----

test::Rejection rejection(std::string_view query) {
  return test::rejection(query, [&] { (void)parse_list_query(query, "1"); });
}

void expect_invalid(std::string_view query, std::string_view field, std::string_view code = "invalid_parameter") {
  const test::Rejection r = rejection(query);
  EXPECT_EQ(r.status, 400) << query;
  EXPECT_EQ(r.code, code) << query;
  EXPECT_EQ(r.field, field) << query << ": " << r.message;
  EXPECT_NE(r.message.find(field), std::string::npos) << "the message should name " << field << ": " << r.message;
}

TEST(ListQuery, Defaults) {
  const ListQuery q = parse_list_query("", "1");
  EXPECT_EQ(q.limit, kDefaultListLimit);
  EXPECT_FALSE(q.phone || q.direction || q.since || q.until || q.cursor);
  EXPECT_TRUE(q.statuses.empty());
}

TEST(ListQuery, EveryParameter) {
  const std::string cursor = encode_cursor({1709251199999999, std::string(kUuid)}, kKey, kScope);
  const ListQuery q = parse_list_query("phone=%2B1%20415%20555%200123&status=failed,undelivered,failed"
                                       "&direction=outbound&since=2024-05-01&until=2024-05-02T00:00:00Z"
                                       "&limit=200&cursor=" + cursor,
                                       "1");
  EXPECT_EQ(q.phone, "+14155550123");
  EXPECT_EQ(q.statuses, (std::vector<std::string>{"failed", "undelivered"}));
  EXPECT_EQ(q.direction, "outbound");
  EXPECT_EQ(q.since, "2024-05-01 00:00:00.000000+00");
  EXPECT_EQ(q.until, "2024-05-02 00:00:00.000000+00");
  EXPECT_EQ(q.limit, 200);
  EXPECT_EQ(q.cursor, cursor);
}

TEST(ListQuery, PhoneIsNormalisedWithTheTenantsCountryCode) {
  EXPECT_EQ(parse_list_query("phone=+14155550123", "1").phone, "+14155550123");  // an unencoded '+' stays a plus
  EXPECT_EQ(parse_list_query("phone=020%207946%200958", "44").phone, "+442079460958");
  EXPECT_EQ(parse_list_query("phone=whatsapp:%2B4915112345678", "1").phone, "+4915112345678");
  expect_invalid("phone=555-CALL-NOW", "phone", "invalid_phone");
  expect_invalid("phone=123", "phone", "invalid_phone");
}

TEST(ListQuery, LimitBounds) {
  EXPECT_EQ(parse_list_query("limit=1", "1").limit, 1);
  EXPECT_EQ(parse_list_query("limit=050", "1").limit, 50);
  for (const char* bad : {"limit=0", "limit=201", "limit=-1", "limit=abc", "limit=1e2", "limit=99999999999",
                          "limit=10.5", "limit=+5"}) {
    expect_invalid(bad, "limit");
  }
}

TEST(ListQuery, BadParametersNameTheField) {
  expect_invalid("status=delivered,bogus", "status");
  expect_invalid("status=", "status");
  expect_invalid("direction=both", "direction");
  expect_invalid("since=yesterday", "since");
  expect_invalid("until=2024-02-30", "until");
  expect_invalid("to=%2B14155550123", "to");
  expect_invalid("limit=5&limit=6", "limit");
  expect_invalid("phone=%zz", "phone");
  expect_invalid("direction", "direction");
}

// ---- error objects ----

TEST(ErrorObject, NullWithoutCodeOrMessage) {
  json::Value none = error_object(std::nullopt, std::nullopt);
  EXPECT_TRUE(json_is_null(none.get()));
}

TEST(ErrorObject, KnownCodeCarriesTheTableAndTwiliosMessage) {
  json::Value e = error_object(63016, std::string("Twilio's own words"));
  EXPECT_EQ(json_integer_value(json_object_get(e.get(), "code")), 63016);
  EXPECT_EQ(json::get_string(e.get(), "message"), "Twilio's own words");
  EXPECT_NE(json::get_string(e.get(), "action")->find("template"), std::string_view::npos);
  EXPECT_TRUE(json_is_false(json_object_get(e.get(), "retryable")));
  EXPECT_EQ(json::get_string(e.get(), "category"), "session_window");

  json::Value without_message = error_object(30003, std::nullopt);
  EXPECT_EQ(json::get_string(without_message.get(), "message"),
            json::get_string(without_message.get(), "description"));
  EXPECT_TRUE(json_is_true(json_object_get(without_message.get(), "retryable")));
}

TEST(ErrorObject, UnknownCodeSaysSoAndIsNotRetryable) {
  json::Value e = error_object(12345, std::nullopt);
  EXPECT_EQ(json_integer_value(json_object_get(e.get(), "code")), 12345);
  EXPECT_EQ(json::get_string(e.get(), "description"), error_codes::kUnknownDescription);
  EXPECT_TRUE(json_is_false(json_object_get(e.get(), "retryable")));
}

// ---- per-phone health ----

HealthAssessment health_of(std::initializer_list<bool> failed_newest_first) {
  const std::vector<char> copy(failed_newest_first.begin(), failed_newest_first.end());
  bool flags[64] = {};
  for (size_t i = 0; i < copy.size(); ++i) flags[i] = copy[i] != 0;
  return assess_health(std::span<const bool>(flags, copy.size()));
}

std::initializer_list<bool> kTwentyDelivered = {false, false, false, false, false, false, false, false, false, false,
                                                false, false, false, false, false, false, false, false, false, false};

TEST(PhoneHealth, UnknownWithoutFinishedMessages) {
  const HealthAssessment h = assess_health({});
  EXPECT_EQ(h.health, Health::Unknown);
  EXPECT_EQ(health_name(h.health), "unknown");
}

TEST(PhoneHealth, HealthyDegradedFailingByRate) {
  EXPECT_EQ(health_of(kTwentyDelivered).health, Health::Healthy);
  // 1 of 20 = 5 %: healthy. 2 of 20 = 10 %: degraded (the bound counts).
  EXPECT_EQ(health_of({false, false, false, false, false, false, false, false, false, false, false, false, false,
                       false, false, false, false, false, false, true}).health,
            Health::Healthy);
  const HealthAssessment degraded = health_of({false, true, false, false, false, false, false, false, false, false,
                                               false, false, false, false, false, false, false, false, false, true});
  EXPECT_EQ(degraded.health, Health::Degraded);
  EXPECT_EQ(degraded.considered, 20U);
  EXPECT_EQ(degraded.failed, 2U);
  // 10 of 20 = 50 %: failing, though the newest ones succeeded.
  EXPECT_EQ(health_of({false, false, false, true, true, true, true, true, true, true, true, true, true, false, false,
                       false, false, false, false, false}).health,
            Health::Failing);
  // 9 of 20: degraded.
  EXPECT_EQ(health_of({false, false, false, true, true, true, true, true, true, true, true, true, false, false, false,
                       false, false, false, false, false}).health,
            Health::Degraded);
}

TEST(PhoneHealth, NewestThreeFailedIsFailing) {
  const HealthAssessment h = health_of({true, true, true, false, false, false, false, false, false, false, false, false,
                                        false, false, false, false, false, false, false, false});
  EXPECT_EQ(h.health, Health::Failing);
  EXPECT_NE(h.reason.find("newest 3"), std::string::npos) << h.reason;
  // Two failures in a row are not yet a streak.
  EXPECT_EQ(health_of({true, true, false, false, false, false, false, false, false, false, false, false, false, false,
                       false, false, false, false, false, false}).health,
            Health::Degraded);
}

TEST(PhoneHealth, OnlyTheWindowCounts) {
  // 20 successes, then older failures: the failures are outside the window.
  const HealthAssessment h = health_of({false, false, false, false, false, false, false, false, false, false, false,
                                        false, false, false, false, false, false, false, false, false, true, true,
                                        true, true, true});
  EXPECT_EQ(h.health, Health::Healthy);
  EXPECT_EQ(h.considered, kHealthWindow);
  EXPECT_EQ(h.failed, 0U);
}

TEST(PhoneHealth, FewMessages) {
  EXPECT_EQ(health_of({true}).health, Health::Failing);
  EXPECT_EQ(health_of({false}).health, Health::Healthy);
  EXPECT_EQ(health_of({true, false}).health, Health::Failing);  // 50 %
  EXPECT_EQ(health_of({false, false, true}).health, Health::Degraded);  // 33 %
}

// ---- routes refuse requests without a key before touching anything ----

TEST(ReadRoutes, RequireAnApiKey) {
  test::TestContext context = test::make_context();
  for (auto* route : {&get_message, &get_delivery_status, &list_messages, &phone_metrics}) {
    http::Request request;
    request.method = "GET";
    request.path_params["id"] = std::string(kUuid);
    const http::Response response = (*route)(request, *context);
    EXPECT_EQ(response.status, 401);
    EXPECT_NE(response.body.find("unauthorized"), std::string::npos) << response.body;
  }
}

}  // namespace
}  // namespace wagate::api
