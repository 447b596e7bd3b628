// redis.hpp — hiredis client: URL parsing, lazy (re)connection, binary-safe commands.
#pragma once

#include <hiredis/hiredis.h>

#include <chrono>
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "wagate/error.hpp"
#include "wagate/secret.hpp"

namespace wagate::redis {

struct ReplyDeleter {
  void operator()(redisReply* reply) const noexcept { freeReplyObject(reply); }
};
struct ContextDeleter {
  void operator()(redisContext* context) const noexcept { redisFree(context); }
};

// One reply; an error reply is a value (is_error()), not an exception.
class Reply {
 public:
  explicit Reply(redisReply* reply) : reply_(reply) {}  // takes ownership, not null

  [[nodiscard]] int type() const { return reply_->type; }  // REDIS_REPLY_*
  [[nodiscard]] bool is_nil() const { return reply_->type == REDIS_REPLY_NIL; }
  [[nodiscard]] bool is_error() const { return reply_->type == REDIS_REPLY_ERROR; }
  // The bytes of a string, status or error reply; "" for any other type.
  [[nodiscard]] std::string_view str() const;
  // The value of an integer reply; 0 for any other type.
  [[nodiscard]] long long integer() const;
  // Number of elements of an array reply; 0 for any other type.
  [[nodiscard]] size_t size() const;
  // Element i of an array reply (owned by this Reply); nullptr when i >= size().
  [[nodiscard]] const redisReply* element(size_t i) const;
  [[nodiscard]] const redisReply* raw() const { return reply_.get(); }

 private:
  std::unique_ptr<redisReply, ReplyDeleter> reply_;
};

// Where a server is and how to log in, from a redis_url.
struct Endpoint {
  enum class Kind { Tcp, Unix };
  Kind kind = Kind::Tcp;
  std::string host;  // Tcp: name or address (IPv6 without brackets)
  int port = 6379;   // Tcp
  std::string path;  // Unix: socket path
  std::string user;  // ACL user; empty means the default user
  Secret password;   // empty: no AUTH
  int db = 0;        // SELECTed after connecting when not 0

  // "host:port" or the socket path, for messages; never the credentials.
  [[nodiscard]] std::string describe() const;
};

// redis://[[user]:password@]host[:port][/db] (IPv6 host in brackets; user and
// password percent-decoded) or unix:///path[?db=N&password=...]. Throws
// ConfigError saying what is wrong, never quoting the URL: it may hold a password.
[[nodiscard]] Endpoint parse_url(std::string_view url);

// One connection; not thread-safe (one per thread, see Context).
class Client {
 public:
  // Parses the URL now (throws ConfigError) but connects on the first command.
  // timeout bounds connecting and each command's I/O; 0 means none.
  Client(std::string url, std::chrono::milliseconds timeout);

  // Sends one command (redisCommandArgv: arguments are binary safe) and waits
  // for its reply. An I/O error or timeout drops the connection and throws
  // RedisError; the next command reconnects. The failed command is not
  // retried: it may have run (INCR, LPUSH) before the connection broke.
  // Connecting failures, and an error reply to AUTH or SELECT while
  // connecting, throw RedisError too.
  Reply command(std::span<const std::string_view> args);
  Reply command(std::initializer_list<std::string_view> args) {
    return command(std::span<const std::string_view>(args.begin(), args.size()));
  }

  [[nodiscard]] bool connected() const;
  [[nodiscard]] const Endpoint& endpoint() const { return endpoint_; }

 private:
  void connect();
  [[noreturn]] void fail(std::string_view what);

  Endpoint endpoint_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<redisContext, ContextDeleter> context_;
};

}  // namespace wagate::redis
