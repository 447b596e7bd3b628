// redis.cpp — hiredis client: URL parsing, lazy (re)connection, binary-safe commands.
#include "wagate/redis.hpp"

#include <charconv>
#include <vector>

#include "wagate/text.hpp"

namespace wagate::redis {
namespace {

constexpr std::string_view kTcpScheme = "redis://";
constexpr std::string_view kUnixScheme = "unix://";

// The URL's userinfo: '+' is itself there (RFC 3986), only %XX is an escape.
std::string percent_decode(std::string_view text) {
  std::optional<std::string> decoded = text::percent_decode(text, text::Plus::Literal);
  if (!decoded) throw ConfigError("redis_url: bad percent-escape in the credentials");
  return std::move(*decoded);
}

int parse_number(std::string_view text, int min, int max, std::string_view what) {
  int value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    throw ConfigError("redis_url: " + std::string(what) + " must be a number from " + std::to_string(min) + " to " +
                      std::to_string(max));
  }
  return value;
}

Endpoint parse_unix(std::string_view rest) {
  Endpoint endpoint;
  endpoint.kind = Endpoint::Kind::Unix;
  const size_t question = rest.find('?');
  endpoint.path = std::string(rest.substr(0, question));
  if (!endpoint.path.starts_with('/')) throw ConfigError("redis_url: unix:// needs an absolute socket path");
  if (question == std::string_view::npos) return endpoint;
  std::string_view query = rest.substr(question + 1);
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const size_t equals = pair.find('=');
    const std::string_view name = pair.substr(0, equals);
    const std::string_view value = equals == std::string_view::npos ? std::string_view() : pair.substr(equals + 1);
    if (name == "db") {
      endpoint.db = parse_number(value, 0, 1'000'000, "the database number");
    } else if (name == "password") {
      endpoint.password = Secret(percent_decode(value));
    } else if (name == "user") {
      endpoint.user = percent_decode(value);
    } else {
      // Not named: a mistyped "?pasword" or a stray "?secret" may be the password.
      throw ConfigError("redis_url: unknown query parameter (known: db, user, password)");
    }
  }
  return endpoint;
}

timeval to_timeval(std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  return tv;
}

}  // namespace

// --- Reply --------------------------------------------------------------------

std::string_view Reply::str() const {
  switch (reply_->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      return {reply_->str, reply_->len};
    default:
      return {};
  }
}

long long Reply::integer() const { return reply_->type == REDIS_REPLY_INTEGER ? reply_->integer : 0; }

size_t Reply::size() const { return reply_->type == REDIS_REPLY_ARRAY ? reply_->elements : 0; }

const redisReply* Reply::element(size_t i) const { return i < size() ? reply_->element[i] : nullptr; }

// --- URL ------------------------------------------------------------------------

std::string Endpoint::describe() const {
  if (kind == Kind::Unix) return path;
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Endpoint parse_url(std::string_view url) {
  if (url.starts_with(kUnixScheme)) return parse_unix(url.substr(kUnixScheme.size()));
  if (!url.starts_with(kTcpScheme)) throw ConfigError("redis_url: must start with redis:// or unix://");
  Endpoint endpoint;
  const std::string_view rest = url.substr(kTcpScheme.size());
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  const std::string_view db = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  if (authority.find('?') != std::string_view::npos || db.find('?') != std::string_view::npos) {
    throw ConfigError("redis_url: query parameters are not supported in redis:// URLs");
  }

  // The last '@' ends the credentials: a password may contain '@'.
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const size_t colon = userinfo.find(':');
    if (colon == std::string_view::npos) {
      throw ConfigError("redis_url: credentials must be written ':password@' or 'user:password@'");
    }
    endpoint.user = percent_decode(userinfo.substr(0, colon));
    endpoint.password = Secret(percent_decode(userinfo.substr(colon + 1)));
  }

  std::string_view port;
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) throw ConfigError("redis_url: unclosed '[' in the host");
    endpoint.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && !after.starts_with(':')) throw ConfigError("redis_url: unexpected text after ']'");
    if (!after.empty()) port = after.substr(1);
  } else {
    const size_t colon = authority.find(':');
    endpoint.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    if (port.find(':') != std::string_view::npos) {
      throw ConfigError("redis_url: an IPv6 host must be written in brackets, e.g. redis://[::1]:6379");
    }
  }
  if (endpoint.host.empty()) throw ConfigError("redis_url: the host is missing");
  if (!port.empty()) endpoint.port = parse_number(port, 1, 65535, "the port");
  if (!db.empty()) endpoint.db = parse_number(db, 0, 1'000'000, "the database number");
  return endpoint;
}

// --- Client ---------------------------------------------------------------------

Client::Client(std::string url, std::chrono::milliseconds timeout)
    : endpoint_(parse_url(url)), timeout_(timeout) {}

bool Client::connected() const { return context_ != nullptr && context_->err == 0; }

void Client::fail(std::string_view what) {
  std::string detail = context_ ? std::string(context_->errstr) : std::string("no connection");
  if (detail.empty()) detail = "connection lost";
  context_.reset();
  throw RedisError("redis: " + endpoint_.describe() + ": " + std::string(what) + ": " + detail);
}

void Client::connect() {
  const bool bounded = timeout_.count() > 0;
  const timeval tv = to_timeval(timeout_);
  redisContext* raw = nullptr;
  if (endpoint_.kind == Endpoint::Kind::Unix) {
    raw = bounded ? redisConnectUnixWithTimeout(endpoint_.path.c_str(), tv) : redisConnectUnix(endpoint_.path.c_str());
  } else {
    raw = bounded ? redisConnectWithTimeout(endpoint_.host.c_str(), endpoint_.port, tv)
                  : redisConnect(endpoint_.host.c_str(), endpoint_.port);
  }
  context_.reset(raw);
  if (!context_) throw RedisError("redis: " + endpoint_.describe() + ": connect failed: out of memory");
  if (context_->err != 0) fail("connect failed");
  if (bounded && redisSetTimeout(context_.get(), tv) != REDIS_OK) fail("setting the timeout failed");

  // AUTH and SELECT failing is a configuration problem, not a reply the
  // caller could act on: the connection is dropped and it throws.
  const auto setup = [this](std::span<const std::string_view> args, std::string_view what) {
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (const std::string_view arg : args) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    auto* reply = static_cast<redisReply*>(
        redisCommandArgv(context_.get(), static_cast<int>(argv.size()), argv.data(), lengths.data()));
    if (reply == nullptr) fail(what);
    const Reply owned(reply);
    if (owned.is_error()) {
      const std::string message(owned.str());
      context_.reset();
      throw RedisError("redis: " + endpoint_.describe() + ": " + std::string(what) + ": " + message);
    }
  };
  if (!endpoint_.password.empty()) {
    if (endpoint_.user.empty()) {
      const std::string_view args[] = {"AUTH", endpoint_.password.reveal()};
      setup(args, "AUTH failed");
    } else {
      const std::string_view args[] = {"AUTH", endpoint_.user, endpoint_.password.reveal()};
      setup(args, "AUTH failed");
    }
  }
  if (endpoint_.db != 0) {
    const std::string db = std::to_string(endpoint_.db);
    const std::string_view args[] = {"SELECT", db};
    setup(args, "SELECT failed");
  }
}

Reply Client::command(std::span<const std::string_view> args) {
  if (args.empty()) throw RedisError("redis: empty command");
  if (!connected()) connect();
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  argv.reserve(args.size());
  lengths.reserve(args.size());
  for (const std::string_view arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  auto* reply = static_cast<redisReply*>(
      redisCommandArgv(context_.get(), static_cast<int>(argv.size()), argv.data(), lengths.data()));
  // hiredis: a NULL reply leaves the context unusable; it must be replaced.
  if (reply == nullptr) fail(std::string(args.front()) + " failed");
  return Reply(reply);
}

}  // namespace wagate::redis
