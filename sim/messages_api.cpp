// messages_api.cpp — Twilio's Messages resource: create (validated as Twilio does), fetch, list; Basic auth.
#include "messages_api.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <utility>
#include <vector>

#include "wagate/crypto.hpp"
#include "wagate/log.hpp"
#include "wagate/time.hpp"
#include "wagate/text.hpp"

namespace wagate::sim {
namespace {

constexpr std::string_view kApiPrefix = "/2010-04-01/Accounts/";
constexpr size_t kMaxBodyLength = 1600;
constexpr size_t kMaxMedia = 10;
constexpr size_t kMaxUrlLength = 4000;
constexpr long long kDefaultPageSize = 50;
constexpr long long kMaxPageSize = 1000;

bool all_hex(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return text::is_hex(c); });
}

bool all_digits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// PREFIX + 32 hex digits: the shape of every Twilio SID.
bool valid_sid(std::string_view sid, std::string_view prefix) {
  return sid.size() == 34 && sid.substr(0, 2) == prefix && all_hex(sid.substr(2));
}

TwilioError bad_request(int code, std::string message) { return TwilioError{400, code, std::move(message)}; }

http::Response unauthorized() {
  http::Response response = twilio_error(TwilioError{401, 20003, "Authenticate"});
  response.headers.emplace_back("WWW-Authenticate", "Basic realm=\"Twilio API\"");
  return response;
}

http::Response not_found(std::string_view path) {
  return twilio_error(TwilioError{404, 20404, "The requested resource " + std::string(path) + " was not found"});
}

json::Value string_or_null(std::string_view text) { return text.empty() ? json::null() : json::string(text); }

std::string message_uri(const Message& message) {
  return std::string(kApiPrefix) + message.account_sid + "/Messages/" + message.sid + ".json";
}

long long page_number(std::optional<std::string_view> text, long long fallback, long long max) {
  if (!text || !all_digits(*text) || text->size() > 9) return fallback;
  return std::min(std::stoll(std::string(*text)), max);
}

}  // namespace

http::Response twilio_error(const TwilioError& error) {
  const json::Value body = json::object();
  json::set(body.get(), "code", json::integer(error.code));
  json::set(body.get(), "message", json::string(error.message));
  json::set(body.get(), "more_info", json::string("https://www.twilio.com/docs/errors/" + std::to_string(error.code)));
  json::set(body.get(), "status", json::integer(error.http_status));
  return http::Response::json(error.http_status, json::dump(body.get()));
}

bool valid_whatsapp_address(std::string_view address) {
  constexpr std::string_view kPrefix = "whatsapp:+";
  if (address.substr(0, kPrefix.size()) != kPrefix) return false;
  const std::string_view digits = address.substr(kPrefix.size());
  return digits.size() >= 7 && digits.size() <= 15 && digits.front() != '0' && all_digits(digits);
}

bool valid_callback_url(std::string_view url) {
  if (url.size() > kMaxUrlLength) return false;
  size_t scheme_end = 0;
  if (url.substr(0, 7) == "http://") {
    scheme_end = 7;
  } else if (url.substr(0, 8) == "https://") {
    scheme_end = 8;
  } else {
    return false;
  }
  const std::string_view rest = url.substr(scheme_end);
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  std::string_view host = authority;
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    if (close == std::string_view::npos) return false;
    const std::string_view after = host.substr(close + 1);
    if (!after.empty() && (after.front() != ':' || !all_digits(after.substr(1)))) return false;
    return close > 1;
  }
  if (const size_t colon = host.find(':'); colon != std::string_view::npos) {
    if (!all_digits(host.substr(colon + 1)) || host.size() - colon - 1 > 5) return false;
    host = host.substr(0, colon);
  }
  return !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-';
  });
}

size_t twilio_length(std::string_view text) {
  size_t units = 0;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte & 0xC0) == 0x80) continue;  // continuation byte
    units += byte >= 0xF0 ? 2 : 1;        // 4-byte sequences are outside the BMP: a surrogate pair
  }
  return units;
}

std::optional<TwilioError> validate_create(const form::Params& params) {
  const auto to = params.first("To");
  if (!to || to->empty()) return bad_request(21604, "A 'To' phone number is required.");
  if (!valid_whatsapp_address(*to)) {
    return bad_request(21211, "Invalid 'To' Phone Number: " + std::string(*to));
  }

  const auto from = params.first("From");
  const auto service = params.first("MessagingServiceSid");
  const bool has_from = from && !from->empty();
  const bool has_service = service && !service->empty();
  if (!has_from && !has_service) return bad_request(21603, "A 'From' phone number is required.");
  if (has_from && has_service) {
    return bad_request(21603, "Specify either 'From' or 'MessagingServiceSid', not both.");
  }
  if (has_from && from->substr(0, 9) != "whatsapp:") {
    return bad_request(21910, "Invalid From and To pair. From and To should be of the same channel");
  }
  if (has_from && !valid_whatsapp_address(*from)) {
    return bad_request(21212, "The 'From' number " + std::string(*from) +
                                  " is not a valid phone number, shortcode, or alphanumeric sender ID.");
  }
  if (has_service && !valid_sid(*service, "MG")) return bad_request(21705, "The Messaging Service is invalid");

  const auto body = params.first("Body");
  const std::vector<std::string_view> media = params.all("MediaUrl");
  const auto content_sid = params.first("ContentSid");
  const auto content_variables = params.first("ContentVariables");
  const bool has_body = body && !body->empty();
  const bool has_content = content_sid && !content_sid->empty();
  if (!has_body && media.empty() && !has_content) {
    return bad_request(21619, "A text message body, media URL or Content SID is required.");
  }
  if (has_body && twilio_length(*body) > kMaxBodyLength) {
    return bad_request(21617, "The concatenated message body exceeds the 1600 character limit.");
  }
  if (media.size() > kMaxMedia) return bad_request(21623, "Number of media files exceeds allowed limit");
  for (const std::string_view url : media) {
    if (!valid_callback_url(url)) return bad_request(21620, "Invalid media URL(s)");
  }
  if (has_content && !valid_sid(*content_sid, "HX")) return bad_request(21655, "The ContentSid is Invalid");
  if (content_variables && !has_content) {
    return bad_request(21654, "A ContentSid must be specified if ContentVariables are provided in the request.");
  }
  if (content_variables) {
    const json::ParseResult variables = json::parse(*content_variables);
    if (!variables.ok() || !json_is_object(variables.value.get())) {
      return bad_request(21656, "The ContentVariables Parameter is invalid");
    }
  }

  if (const auto callback = params.first("StatusCallback"); callback && !callback->empty()) {
    if (!valid_callback_url(*callback)) return bad_request(21609, "Invalid 'StatusCallback': " + std::string(*callback));
  }
  if (const auto validity = params.first("ValidityPeriod")) {
    // Twilio's bounds: whole seconds, 1 to 36000 (10 hours).
    const bool in_range = all_digits(*validity) && validity->size() <= 5 && validity->front() != '0' &&
                          std::stoi(std::string(*validity)) <= 36000;
    if (!in_range) {
      return bad_request(21624, "Validity period can only be set to integers between 1 and 36,000 seconds.");
    }
  }
  return std::nullopt;
}

std::optional<BasicCredentials> parse_basic_auth(std::string_view authorization) {
  constexpr std::string_view kScheme = "basic ";
  if (authorization.size() <= kScheme.size() || !text::iequals(authorization.substr(0, kScheme.size()), kScheme)) {
    return std::nullopt;
  }
  std::string_view encoded = authorization.substr(kScheme.size());
  while (!encoded.empty() && encoded.front() == ' ') encoded.remove_prefix(1);
  const std::optional<std::string> decoded = crypto::unbase64(encoded);
  if (!decoded) return std::nullopt;
  const size_t colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  return BasicCredentials{decoded->substr(0, colon), decoded->substr(colon + 1)};
}

std::string rfc2822_date(Clock::time_point time) {
  return time::format_rfc2822(std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch()).count());
}

std::optional<Clock::time_point> parse_twilio_date(std::string_view text) {
  // Twilio's DateSent filter takes a day or a UTC time to the second, no
  // other ISO 8601 form.
  const bool day = text.size() == 10;
  const bool utc_second = text.size() == 20 && text[10] == 'T' && text.back() == 'Z';
  if (!day && !utc_second) return std::nullopt;
  const std::optional<long long> micros = time::parse_iso8601(text);
  if (!micros) return std::nullopt;
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::microseconds(*micros)));
}

std::string list_price(std::string_view to) {
  struct CountryPrice {
    std::string_view calling_code;
    std::string_view price;
  };
  // Twilio's fee plus Meta's per-message rate, rounded: of the right order
  // for each country, not a quote.
  static constexpr CountryPrice kPrices[] = {
      {"1", "-0.00500"},   // United States, Canada
      {"34", "-0.06150"},  // Spain
      {"44", "-0.03580"},  // United Kingdom
      {"49", "-0.07680"},  // Germany
      {"52", "-0.03050"},  // Mexico
      {"55", "-0.06250"},  // Brazil
      {"91", "-0.00990"},  // India
  };
  constexpr std::string_view kOtherCountries = "-0.04000";
  std::string_view digits = to;
  if (const size_t plus = digits.find('+'); plus != std::string_view::npos) digits.remove_prefix(plus + 1);
  std::string_view best;
  std::string_view price = kOtherCountries;
  for (const CountryPrice& entry : kPrices) {
    if (digits.starts_with(entry.calling_code) && entry.calling_code.size() > best.size()) {
      best = entry.calling_code;
      price = entry.price;
    }
  }
  return std::string(price);
}

std::optional<std::string> shown_price(const Message& message, std::chrono::milliseconds price_delay,
                                       Clock::time_point now) {
  if (!message.final_at || now < *message.final_at + price_delay) return std::nullopt;
  if (message.status == "failed") return "0.00000";
  return list_price(message.to);
}

json::Value message_json(const Message& message, std::chrono::milliseconds price_delay, Clock::time_point now) {
  json::Value out = json::object();
  json_t* object = out.get();
  std::string from = message.from;
  // A Messaging Service picks the sender once it processes the message.
  if (from.empty() && message.status != "accepted") from = std::string(kServiceSender);
  const std::string uri = message_uri(message);
  json::set(object, "account_sid", json::string(message.account_sid));
  json::set(object, "api_version", json::string(kApiVersion));
  json::set(object, "body", json::string(message.body));
  json::set(object, "date_created", json::string(rfc2822_date(message.created)));
  json::set(object, "date_sent", message.sent ? json::string(rfc2822_date(*message.sent)) : json::null());
  json::set(object, "date_updated", json::string(rfc2822_date(message.updated)));
  json::set(object, "direction", json::string("outbound-api"));
  json::set(object, "error_code", message.error_code != 0 ? json::integer(message.error_code) : json::null());
  json::set(object, "error_message", string_or_null(message.error_message));
  json::set(object, "from", string_or_null(from));
  json::set(object, "messaging_service_sid", string_or_null(message.messaging_service_sid));
  json::set(object, "num_media", json::string(std::to_string(message.num_media)));
  json::set(object, "num_segments", json::string("1"));
  const std::optional<std::string> price = shown_price(message, price_delay, now);
  json::set(object, "price", price ? json::string(*price) : json::null());
  json::set(object, "price_unit", json::string("USD"));
  json::set(object, "sid", json::string(message.sid));
  json::set(object, "status", json::string(message.status));
  json::Value subresources = json::object();
  json::set(subresources.get(), "media", json::string(uri.substr(0, uri.size() - 5) + "/Media.json"));
  json::set(object, "subresource_uris", std::move(subresources));
  json::set(object, "to", json::string(message.to));
  json::set(object, "uri", json::string(uri));
  return out;
}

MessagesApi::MessagesApi(Accounts& accounts, Ledger& ledger, Dispatcher& dispatcher, Options options)
    : accounts_(accounts), ledger_(ledger), dispatcher_(dispatcher), options_(options) {
  if (options_.default_scenario == nullptr) options_.default_scenario = &default_scenario();
}

Reply MessagesApi::handle(const http::Request& request) {
  Reply reply;
  reply.delay = options_.latency;

  // /2010-04-01/Accounts/{AccountSid}/Messages.json
  // /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json
  std::string_view path = request.path;
  if (path.substr(0, kApiPrefix.size()) != kApiPrefix) {
    reply.response = not_found(path);
    return reply;
  }
  const std::string_view rest = path.substr(kApiPrefix.size());
  const size_t slash = rest.find('/');
  const std::string account_sid(rest.substr(0, slash));
  const std::string_view resource = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);

  // Authentication comes first, as at Twilio: nothing about an account is
  // revealed (not even whether a path exists) to a caller without its credentials.
  const auto credentials = parse_basic_auth(request.header("authorization").value_or(""));
  const std::optional<Secret> token =
      credentials && valid_account_sid(account_sid) && credentials->user == account_sid
          ? accounts_.token(account_sid)
          : std::nullopt;
  if (!token || !(*token == Secret(credentials->password))) {
    log::debug("api_unauthorized").kv("account", account_sid).kv("path", path);
    if (resource == "/Messages.json" && request.method == "POST") {
      ledger_.record_create(CreateRecord{Clock::now(), account_sid, "", {}, 401, 20003, ""});
    }
    reply.response = unauthorized();
    return reply;
  }

  if (resource == "/Messages.json") {
    if (request.method == "POST") {
      Reply created = create(request, account_sid, *token);
      created.delay += options_.latency;
      return created;
    }
    if (request.method == "GET") {
      reply.response = list(request, account_sid);
      return reply;
    }
  } else if (resource.substr(0, 10) == "/Messages/" && resource.size() > 15 &&
             resource.substr(resource.size() - 5) == ".json" &&
             resource.find('/', 10) == std::string_view::npos) {
    if (request.method == "GET") {
      reply.response = fetch(account_sid, resource.substr(10, resource.size() - 15), path);
      return reply;
    }
  } else {
    reply.response = not_found(path);
    return reply;
  }
  reply.response = twilio_error(TwilioError{405, 20004, "Method not allowed"});
  reply.response.headers.emplace_back("Allow", resource == "/Messages.json" ? "GET, POST" : "GET");
  return reply;
}

Reply MessagesApi::create(const http::Request& request, const std::string& account_sid, const Secret& token) {
  Reply reply;
  CreateRecord record;
  record.time = Clock::now();
  record.account_sid = account_sid;

  const form::ParseResult parsed = form::parse(request.body);
  if (!parsed.ok()) {
    const TwilioError error = bad_request(kCodeInvalidParameter, "Invalid form body: " + parsed.error);
    record.http_status = error.http_status;
    record.error_code = error.code;
    ledger_.record_create(std::move(record));
    reply.response = twilio_error(error);
    return reply;
  }
  const form::Params& params = parsed.params;
  record.params = params;
  const std::string to(params.first("To").value_or(""));
  record.to = to;

  const Scenario& scenario = scenario_for(to, *options_.default_scenario);
  const int attempt = to.empty() ? 1 : ledger_.count_attempt(to);
  std::optional<TwilioError> error;
  switch (scenario.api) {
    case ApiBehaviour::Reject21211:
      error = bad_request(21211, "Invalid 'To' Phone Number: " + to);
      break;
    case ApiBehaviour::RateLimitedTwice:
      if (attempt <= 2) error = TwilioError{429, 20429, "Too Many Requests"};
      break;
    case ApiBehaviour::UnavailableOnce:
      if (attempt == 1) error = TwilioError{503, 20503, "Service is unavailable. Please try again"};
      break;
    case ApiBehaviour::Create:
    case ApiBehaviour::SlowAnswer:
      break;
  }
  if (!error) error = validate_create(params);
  if (error) {
    log::debug("create_rejected").kv("account", account_sid).kv("to", to).kv("code", error->code);
    record.http_status = error->http_status;
    record.error_code = error->code;
    ledger_.record_create(std::move(record));
    reply.response = twilio_error(*error);
    return reply;
  }

  Message message;
  message.sid = new_message_sid();
  message.account_sid = account_sid;
  message.to = to;
  message.from = std::string(params.first("From").value_or(""));
  message.messaging_service_sid = std::string(params.first("MessagingServiceSid").value_or(""));
  message.body = std::string(params.first("Body").value_or(""));
  message.status_callback = std::string(params.first("StatusCallback").value_or(""));
  message.num_media = static_cast<int>(params.all("MediaUrl").size());
  message.scenario = std::string(scenario.name);
  message.status = message.messaging_service_sid.empty() ? "queued" : "accepted";
  message.created = record.time;
  message.updated = record.time;
  ledger_.add_message(message);

  record.http_status = 201;
  record.sid = message.sid;
  ledger_.record_create(std::move(record));
  log::debug("message_created").kv("account", account_sid).kv("sid", message.sid).kv("scenario", scenario.name);

  const json::Value body = message_json(message);
  reply.response = http::Response::json(201, json::dump(body.get()));
  if (scenario.api == ApiBehaviour::SlowAnswer) {
    // The message exists and its callbacks go out while the caller waits in
    // vain: it must find out by fetching or listing.
    dispatcher_.schedule(message, scenario.steps, token);
    reply.delay = options_.slow_answer;
  } else {
    // Callbacks start once the answer is out, as Twilio's would: a sender
    // that is slow to store the SID can still see one first.
    reply.after_write = [this, message = std::move(message), steps = scenario.steps, token] {
      dispatcher_.schedule(message, steps, token);
    };
  }
  return reply;
}

http::Response MessagesApi::fetch(const std::string& account_sid, std::string_view sid, std::string_view path) {
  const std::optional<Message> message = ledger_.message(account_sid, sid);
  if (!message) return not_found(path);
  const json::Value body = message_json(*message, options_.price_delay);
  return http::Response::json(200, json::dump(body.get()));
}

http::Response MessagesApi::list(const http::Request& request, const std::string& account_sid) {
  const form::ParseResult query = form::parse(request.query);
  if (!query.ok()) return twilio_error(bad_request(kCodeInvalidParameter, "Invalid query: " + query.error));

  MessageFilter filter;
  filter.to = std::string(query.params.first("To").value_or(""));
  filter.from = std::string(query.params.first("From").value_or(""));

  // DateSent=D is that UTC day, DateSent>=D from D on, DateSent<=D up to the
  // end of D; a date-time bound is exact to the second.
  struct Bound {
    Clock::time_point time;
    Clock::duration span;  // a day for a date, a second for a date-time
  };
  bool bad_date = false;
  const auto bound = [&](std::string_view name) -> std::optional<Bound> {
    const auto value = query.params.first(name);
    if (!value) return std::nullopt;
    const auto time = parse_twilio_date(*value);
    if (!time) {
      bad_date = true;
      return std::nullopt;
    }
    return Bound{*time, value->size() == 10 ? Clock::duration(std::chrono::hours(24))
                                            : Clock::duration(std::chrono::seconds(1))};
  };
  const std::optional<Bound> exact = bound("DateSent");
  const std::optional<Bound> after = bound("DateSent>");
  const std::optional<Bound> before = bound("DateSent<");
  if (bad_date) {
    return twilio_error(bad_request(kCodeInvalidParameter, "DateSent must be YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ"));
  }
  if (exact) {
    filter.sent_on_or_after = exact->time;
    filter.sent_before = exact->time + exact->span;
  }
  if (after) filter.sent_on_or_after = after->time;
  if (before) filter.sent_before = before->time + before->span;

  const long long page_size = std::max(1LL, page_number(query.params.first("PageSize"), kDefaultPageSize, kMaxPageSize));
  const long long page = page_number(query.params.first("Page"), 0, 1'000'000);
  const std::vector<Message> found = ledger_.messages(account_sid, filter);
  const size_t start = static_cast<size_t>(page * page_size);

  form::Params kept;
  for (const form::Param& param : query.params.items()) {
    if (param.name != "Page" && param.name != "PageSize" && param.name != "PageToken") kept.add(param.name, param.value);
  }
  const std::string base = std::string(kApiPrefix) + account_sid + "/Messages.json?" +
                           (kept.empty() ? std::string() : form::build(kept) + "&") +
                           "PageSize=" + std::to_string(page_size) + "&Page=";

  const json::Value body = json::object();
  json::Value messages = json::array();
  size_t end = start;
  for (size_t i = start; i < found.size() && i < start + static_cast<size_t>(page_size); ++i, ++end) {
    json::append(messages.get(), message_json(found[i], options_.price_delay));
  }
  json::set(body.get(), "first_page_uri", json::string(base + "0"));
  json::set(body.get(), "end", json::integer(static_cast<long long>(end == start ? start : end - 1)));
  json::set(body.get(), "previous_page_uri", page > 0 ? json::string(base + std::to_string(page - 1)) : json::null());
  json::set(body.get(), "messages", std::move(messages));
  json::set(body.get(), "uri", json::string(base + std::to_string(page)));
  json::set(body.get(), "page_size", json::integer(page_size));
  json::set(body.get(), "start", json::integer(static_cast<long long>(start)));
  json::set(body.get(), "next_page_uri",
            end < found.size() ? json::string(base + std::to_string(page + 1)) : json::null());
  json::set(body.get(), "page", json::integer(page));
  return http::Response::json(200, json::dump(body.get()));
}

}  // namespace wagate::sim
