// pg.hpp — libpq connection, parameterised queries, typed results, transactions.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "wagate/error.hpp"
#include "wagate/secret.hpp"

namespace wagate::pg {

struct ResultDeleter {
  void operator()(PGresult* result) const noexcept { PQclear(result); }
};
struct ConnDeleter {
  void operator()(PGconn* conn) const noexcept { PQfinish(conn); }
};

// The rows of one statement, all values in text format.
class Result {
 public:
  explicit Result(PGresult* result) : result_(result) {}  // takes ownership

  [[nodiscard]] int rows() const;
  [[nodiscard]] int columns() const;
  [[nodiscard]] bool is_null(int row, int col) const;
  // Valid as long as this Result lives; "" for NULL.
  [[nodiscard]] std::string_view get(int row, int col) const;
  [[nodiscard]] std::optional<std::string> optional(int row, int col) const;
  // Throws DbError when the value is NULL or not a base-10 integer that fits.
  [[nodiscard]] long long get_int(int row, int col) const;
  // Throws DbError when the result has no column of that name.
  [[nodiscard]] int column(std::string_view name) const;
  // Rows inserted, updated or deleted by the statement (0 when it says none).
  [[nodiscard]] long long affected() const;
  // The command tag ("INSERT 0 1", "COMMIT", "ROLLBACK").
  [[nodiscard]] std::string_view command_tag() const;

  [[nodiscard]] const PGresult* raw() const { return result_.get(); }

 private:
  void check_cell(int row, int col) const;

  std::unique_ptr<PGresult, ResultDeleter> result_;
};

// A query parameter in text format; std::nullopt is SQL NULL.
using Param = std::optional<std::string_view>;

// The server rejected a statement. what() is "postgres: <primary message>
// (SQLSTATE xxxxx)": libpq's primary message only (the DETAIL of a unique
// violation quotes the key), and any quoted parameter value is redacted.
class QueryError : public DbError {
 public:
  QueryError(std::string sqlstate, const std::string& message, int position = 0)
      : DbError(message), sqlstate_(std::move(sqlstate)), position_(position) {}
  [[nodiscard]] const std::string& sqlstate() const { return sqlstate_; }
  // 1-based character offset into the statement text where the server found
  // the error, 0 when it gave none (used to name a line of a migration file).
  [[nodiscard]] int position() const { return position_; }

 private:
  std::string sqlstate_;
  int position_;
};

// The client did not get the server's answer in time (see Limits). The
// connection is abandoned: healthy() is false from then on. What the server
// does with a statement it had received is unknown; it may still commit it.
class Timeout : public DbError {
 public:
  using DbError::DbError;
};

// Bounds on the waits of one connection. A zero bound is no bound: admin
// tools and workers connect with libpq's blocking call (and connect_timeout)
// and wait for their statements as long as they take.
struct Limits {
  // Connecting and the session set-up, as one deadline (PQconnectStart/Poll).
  std::chrono::milliseconds connect{0};
  // Each statement's answer, from sending it to its last result.
  std::chrono::milliseconds statement{0};
  // The server's own statement_timeout (SET on connect): it cancels a slow
  // statement with SQLSTATE 57014, which a client-side deadline cannot do.
  std::chrono::milliseconds server_statement{0};
};

// SQLSTATE of a statement the server cancelled (statement_timeout).
inline constexpr std::string_view kQueryCanceled = "57014";

// One server connection; not thread-safe (one per thread, see Context).
class Connection {
 public:
  using Clock = std::chrono::steady_clock;

  // Connects and checks PQstatus. Throws DbError "postgres: connection
  // failed: ...", or Timeout when limits.connect passes first; the DSN's
  // password never appears in either. TCP connections get keepalives and
  // tcp_user_timeout, so a peer that vanished is noticed by the kernel too.
  // A deadline is as set_deadline(), from the first wait of connecting on.
  explicit Connection(const std::string& dsn, Limits limits = {},
                      std::optional<std::chrono::steady_clock::time_point> deadline = std::nullopt);

  // One statement with $1..$n parameters (PQexecParams, extended protocol).
  // Throws QueryError when the server rejects it, DbError when the connection
  // fails under it.
  Result exec(std::string_view sql, std::span<const Param> params = {});
  Result exec(std::string_view sql, std::initializer_list<Param> params) {
    return exec(sql, std::span<const Param>(params.begin(), params.size()));
  }
  // Several statements without parameters in one round trip (simple query
  // protocol), e.g. a migration file. Throws like exec().
  void exec_script(std::string_view sql);

  // Prepares a named statement and remembers it, so that reset() can prepare
  // it again on the new session. Preparing a name again with the same SQL is
  // a no-op (handlers can prepare lazily); with different SQL it throws.
  void prepare(const std::string& name, std::string_view sql);
  Result exec_prepared(const std::string& name, std::span<const Param> params);
  Result exec_prepared(const std::string& name, std::initializer_list<Param> params) {
    return exec_prepared(name, std::span<const Param>(params.begin(), params.size()));
  }

  [[nodiscard]] bool healthy() const;  // PQstatus == CONNECTION_OK, and not abandoned
  // Reconnects with the same parameters and prepares the remembered
  // statements again; throws DbError if the server is still unreachable.
  void reset();
  [[nodiscard]] PGconn* raw() { return conn_.get(); }

  // A point in time no wait of this connection goes past, on top of the
  // per-statement limit (a request's whole budget); nullopt clears it. A
  // call made after it has passed throws Timeout without asking the server.
  void set_deadline(std::optional<Clock::time_point> deadline) { deadline_ = deadline; }

 private:
  void connect();
  // Throws before anything is sent when the connection is gone or the
  // deadline has passed.
  void before_send(std::string_view what);
  void send_prepare(const std::string& name, const std::string& sql);
  Result check(PGresult* result, std::span<const Param> params);
  // Waits for the answer to what was just sent, within the statement limit.
  // Null when the connection failed; throws Timeout when the deadline passed.
  PGresult* await_result(std::optional<Clock::time_point> deadline, std::string_view what);
  [[nodiscard]] std::optional<Clock::time_point> statement_deadline() const;
  void wait_socket(bool for_write, Clock::time_point deadline, std::string_view what);
  [[noreturn]] void abandon(std::string_view what);
  [[noreturn]] void throw_connection_error(std::string_view what) const;

  std::string dsn_;
  Limits limits_;
  std::optional<Clock::time_point> deadline_;
  std::unique_ptr<PGconn, ConnDeleter> conn_;
  std::vector<Secret> passwords_;  // the DSN's password spellings, only to scrub them from messages
  std::vector<std::pair<std::string, std::string>> prepared_;  // name, SQL
};

// BEGIN on construction; ROLLBACK in the destructor unless commit() ran, so
// an exception between the two never leaves a transaction open.
class Transaction {
 public:
  explicit Transaction(Connection& conn, std::string_view begin_sql = "BEGIN");
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();
  void commit();

 private:
  Connection& conn_;
  bool done_ = false;
};

// libpq's connection-failure text with every spelling of the DSN's password
// replaced by "(redacted)", on one line. Exposed for tests.
[[nodiscard]] std::string scrub_connection_message(std::string_view message, std::string_view dsn);

}  // namespace wagate::pg
