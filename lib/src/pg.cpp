// pg.cpp — libpq connection, parameterised queries, typed results, transactions.
#include "wagate/pg.hpp"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>

#include "wagate/log.hpp"
#include "wagate/text.hpp"

namespace wagate::pg {
namespace {

// libpq waits forever for an unreachable host unless told otherwise; a DSN
// that sets connect_timeout itself wins over this.
constexpr const char* kDefaultConnectTimeout = "10";
// TCP only (a unix socket ignores them): a server host that vanished is
// noticed by the kernel within about half a minute even on an idle
// connection, and unacknowledged data is given up on after 10 s. Neither
// helps against a live kernel whose Postgres does not answer: that is what
// Limits are for.
constexpr const char* kKeepalivesIdle = "10";
constexpr const char* kKeepalivesInterval = "5";
constexpr const char* kKeepalivesCount = "3";
constexpr const char* kTcpUserTimeoutMs = "10000";
constexpr std::string_view kRedacted = "(redacted)";
// A parameter value shorter than this is only redacted where the server
// quotes it: replacing every "1" in a message would make it unreadable.
constexpr size_t kMinUnquotedRedaction = 8;

void replace_all(std::string& text, std::string_view needle, std::string_view replacement) {
  if (needle.empty()) return;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + replacement.size())) {
    text.replace(at, needle.size(), replacement);
  }
}

// libpq's messages end in a newline and put hints on tab-indented lines; an
// error travels in one log line, so they are joined with "; ".
std::string one_line(std::string_view text) {
  std::string out;
  bool pending_break = false;
  for (const char c : text) {
    if (c == '\n' || c == '\r') {
      pending_break = true;
      continue;
    }
    if (pending_break && (c == ' ' || c == '\t')) continue;
    if (pending_break && !out.empty()) out += "; ";
    pending_break = false;
    out.push_back(c);
  }
  return out;
}

// The raw spelling is added beside this one, so a malformed escape keeps it.
std::string percent_decode(std::string_view text) {
  return text::percent_decode(text, text::Plus::Literal).value_or(std::string(text));
}

// Every way the DSN's password could be spelled in a libpq message: what
// libpq parses, and, should the DSN not parse at all (libpq then quotes parts
// of it), what a reader would take for the password in key=value or URI form.
std::vector<std::string> password_spellings(std::string_view dsn) {
  std::vector<std::string> out;
  const auto add = [&out](std::string value) {
    if (!value.empty()) out.push_back(std::move(value));
  };

  char* error = nullptr;
  if (PQconninfoOption* options = PQconninfoParse(std::string(dsn).c_str(), &error); options != nullptr) {
    for (const PQconninfoOption* option = options; option->keyword != nullptr; ++option) {
      if (std::strcmp(option->keyword, "password") == 0 && option->val != nullptr) add(option->val);
    }
    PQconninfoFree(options);
  }
  if (error != nullptr) PQfreemem(error);

  // key=value form, and ?password= in a URI.
  for (size_t at = dsn.find("password"); at != std::string_view::npos; at = dsn.find("password", at + 1)) {
    size_t i = at + 8;
    while (i < dsn.size() && (dsn[i] == ' ' || dsn[i] == '\t')) ++i;
    if (i >= dsn.size() || dsn[i] != '=') continue;
    ++i;
    while (i < dsn.size() && (dsn[i] == ' ' || dsn[i] == '\t')) ++i;
    if (i < dsn.size() && dsn[i] == '\'') {
      std::string unescaped;
      size_t end = i + 1;
      for (; end < dsn.size() && dsn[end] != '\''; ++end) {
        if (dsn[end] == '\\' && end + 1 < dsn.size()) ++end;
        unescaped.push_back(dsn[end]);
      }
      add(std::string(dsn.substr(i + 1, end - i - 1)));
      add(std::move(unescaped));
    } else {
      const size_t blank = std::min(dsn.find_first_of(" \t\n", i), dsn.size());
      const size_t amp = std::min(dsn.find('&', i), blank);
      add(std::string(dsn.substr(i, blank - i)));
      add(std::string(dsn.substr(i, amp - i)));
      add(percent_decode(dsn.substr(i, amp - i)));
    }
  }

  // URI userinfo: scheme://user:password@host. Both the first and the last
  // '@' are tried, so a password with a raw '@' is covered either way.
  if (const size_t scheme = dsn.find("://"); scheme != std::string_view::npos) {
    const std::string_view rest = dsn.substr(scheme + 3);
    for (const size_t at : {rest.find('@'), rest.rfind('@')}) {
      if (at == std::string_view::npos) continue;
      const std::string_view userinfo = rest.substr(0, at);
      const size_t colon = userinfo.find(':');
      if (colon == std::string_view::npos) continue;
      const std::string_view password = userinfo.substr(colon + 1);
      add(std::string(password));
      add(percent_decode(password));
    }
  }

  // Longest first, so that a spelling containing another is replaced whole.
  std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// A server message may quote the value it could not take ("invalid input
// syntax for type uuid: \"...\""): parameters carry message bodies, phone
// numbers and credentials, none of which belongs in an error.
std::string redact_params(std::string message, std::span<const Param> params) {
  for (const Param& param : params) {
    if (!param || param->empty()) continue;
    replace_all(message, "\"" + std::string(*param) + "\"", "\"(redacted)\"");
    if (param->size() >= kMinUnquotedRedaction) replace_all(message, *param, kRedacted);
  }
  return message;
}

// Text parameters must be NUL-terminated C strings, and a string_view need
// not be: the values are copied into one buffer, each followed by a NUL.
class TextParams {
 public:
  explicit TextParams(std::span<const Param> params) {
    if (params.size() > 65535) throw DbError("postgres: more than 65535 parameters in one statement");
    size_t total = 0;
    for (const Param& param : params) {
      if (!param) continue;
      // Postgres text cannot hold a NUL; libpq would silently cut the value
      // there, so refuse it the way the server refuses an invalid byte.
      if (param->find('\0') != std::string_view::npos) {
        throw QueryError("22021", "postgres: a parameter contains a NUL byte (SQLSTATE 22021)");
      }
      total += param->size() + 1;
    }
    storage_.reserve(total);
    std::vector<size_t> offsets;
    offsets.reserve(params.size());
    for (const Param& param : params) {
      offsets.push_back(storage_.size());
      if (!param) continue;
      storage_ += *param;
      storage_.push_back('\0');
    }
    values_.reserve(params.size());
    for (size_t i = 0; i < params.size(); ++i) {
      values_.push_back(params[i] ? storage_.data() + offsets[i] : nullptr);
    }
  }
  [[nodiscard]] int count() const { return static_cast<int>(values_.size()); }
  [[nodiscard]] const char* const* values() const { return values_.empty() ? nullptr : values_.data(); }

 private:
  std::string storage_;
  std::vector<const char*> values_;
};

// Server notices (e.g. "relation already exists, skipping") would otherwise
// go to stderr raw, outside the one-line log format.
void log_notice(void* /*arg*/, const PGresult* result) {
  const char* severity = PQresultErrorField(result, PG_DIAG_SEVERITY_NONLOCALIZED);
  const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
  const std::string_view level = severity != nullptr ? severity : "NOTICE";
  const std::string_view text = primary != nullptr ? primary : "";
  if (level == "WARNING") {
    log::warning("pg_notice").kv("severity", level).kv("message", text);
  } else {
    log::debug("pg_notice").kv("severity", level).kv("message", text);
  }
}

}  // namespace

std::string scrub_connection_message(std::string_view message, std::string_view dsn) {
  std::string text(message);
  for (const std::string& password : password_spellings(dsn)) replace_all(text, password, kRedacted);
  return one_line(text);
}

// --- Result -----------------------------------------------------------------

int Result::rows() const { return PQntuples(result_.get()); }

int Result::columns() const { return PQnfields(result_.get()); }

void Result::check_cell(int row, int col) const {
  if (row < 0 || row >= rows() || col < 0 || col >= columns()) {
    throw DbError("postgres: no value at row " + std::to_string(row) + ", column " + std::to_string(col) + " (" +
                  std::to_string(rows()) + " rows, " + std::to_string(columns()) + " columns)");
  }
}

bool Result::is_null(int row, int col) const {
  check_cell(row, col);
  return PQgetisnull(result_.get(), row, col) == 1;
}

std::string_view Result::get(int row, int col) const {
  check_cell(row, col);
  return {PQgetvalue(result_.get(), row, col), static_cast<size_t>(PQgetlength(result_.get(), row, col))};
}

std::optional<std::string> Result::optional(int row, int col) const {
  if (is_null(row, col)) return std::nullopt;
  return std::string(get(row, col));
}

long long Result::get_int(int row, int col) const {
  check_cell(row, col);
  const PGresult* raw = result_.get();
  const char* text = PQgetvalue(raw, row, col);
  const char* end = text + PQgetlength(raw, row, col);
  long long value = 0;
  const auto [stop, error] = std::from_chars(text, end, value);
  if (error == std::errc() && stop == end && text != end) return value;
  // Only a failure pays for the message (a NULL reads as "").
  const char* name = PQfname(raw, col);
  const std::string where = "column '" + std::string(name != nullptr ? name : "?") + "' row " + std::to_string(row);
  if (PQgetisnull(raw, row, col) == 1) throw DbError("postgres: " + where + " is NULL, expected an integer");
  throw DbError("postgres: " + where + " is not an integer");
}

int Result::column(std::string_view name) const {
  // Not PQfnumber: it folds unquoted names to lower case.
  for (int col = 0; col < columns(); ++col) {
    if (name == PQfname(result_.get(), col)) return col;
  }
  throw DbError("postgres: result has no column '" + std::string(name) + "'");
}

long long Result::affected() const {
  const std::string_view text = PQcmdTuples(result_.get());
  long long value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

std::string_view Result::command_tag() const { return PQcmdStatus(result_.get()); }

// --- Connection ---------------------------------------------------------------

Connection::Connection(const std::string& dsn, Limits limits, std::optional<Clock::time_point> deadline)
    : dsn_(dsn), limits_(limits), deadline_(deadline) {
  for (std::string& password : password_spellings(dsn)) passwords_.emplace_back(std::move(password));
  connect();
}

void Connection::connect() {
  // The DSN goes in as an expanded dbname after our defaults, so anything
  // it sets overrides them.
  const char* keywords[] = {"connect_timeout", "fallback_application_name", "keepalives", "keepalives_idle",
                            "keepalives_interval", "keepalives_count", "tcp_user_timeout", "dbname", nullptr};
  const char* values[] = {kDefaultConnectTimeout, program_invocation_short_name, "1", kKeepalivesIdle,
                          kKeepalivesInterval, kKeepalivesCount, kTcpUserTimeoutMs, dsn_.c_str(), nullptr};
  if (limits_.connect.count() <= 0 && !deadline_) {
    conn_.reset(PQconnectdbParams(keywords, values, 1));
    if (!conn_) throw DbError("postgres: connection failed: out of memory");
    if (PQstatus(conn_.get()) != CONNECTION_OK) throw_connection_error("connection failed");
  } else {
    std::optional<Clock::time_point> deadline = deadline_;
    if (limits_.connect.count() > 0) {
      const auto own = Clock::now() + limits_.connect;
      if (!deadline || own < *deadline) deadline = own;
    }
    if (Clock::now() >= *deadline) throw Timeout("postgres: connection failed: no time left to connect");
    // libpq ignores connect_timeout here: the deadline below is the bound.
    conn_.reset(PQconnectStartParams(keywords, values, 1));
    if (!conn_) throw DbError("postgres: connection failed: out of memory");
    if (PQstatus(conn_.get()) == CONNECTION_BAD) throw_connection_error("connection failed");
    // As the libpq manual says: start as if PQconnectPoll had asked for writing.
    PostgresPollingStatusType state = PGRES_POLLING_WRITING;
    while (state != PGRES_POLLING_OK) {
      if (state == PGRES_POLLING_FAILED) throw_connection_error("connection failed");
      wait_socket(state == PGRES_POLLING_WRITING, *deadline, "connection failed");
      state = PQconnectPoll(conn_.get());
    }
  }
  // Non-blocking: a send never waits on a server that does not read, and
  // PQfinish of an abandoned connection never waits either.
  if (PQsetnonblocking(conn_.get(), 1) != 0) throw_connection_error("connection failed");
  PQsetNoticeReceiver(conn_.get(), log_notice, nullptr);
  if (limits_.server_statement.count() > 0) {
    const std::string ms = std::to_string(limits_.server_statement.count());
    exec("SELECT set_config('statement_timeout', $1, false)", {std::string_view(ms)});
  }
}

// Every occurrence is replaced, even of a very short password that also
// appears as ordinary text: a garbled message is the lesser harm.
void Connection::throw_connection_error(std::string_view what) const {
  std::string text = conn_ ? PQerrorMessage(conn_.get()) : "no connection";
  for (const Secret& password : passwords_) replace_all(text, password.reveal(), kRedacted);
  throw DbError("postgres: " + std::string(what) + ": " + one_line(text));
}

std::optional<Connection::Clock::time_point> Connection::statement_deadline() const {
  std::optional<Clock::time_point> deadline = deadline_;
  if (limits_.statement.count() > 0) {
    const auto own = Clock::now() + limits_.statement;
    if (!deadline || own < *deadline) deadline = own;
  }
  return deadline;
}

// The server may still be working on what it was sent, and may commit it:
// the caller must treat the outcome as unknown (webhook records are
// idempotent, so storing one again later has the effect of once). Closing
// the socket is what stops the wait; PQfinish cannot block on a
// non-blocking connection.
void Connection::abandon(std::string_view what) {
  conn_.reset();
  throw Timeout("postgres: " + std::string(what) + ": no answer in time; connection abandoned");
}

void Connection::wait_socket(bool for_write, Clock::time_point deadline, std::string_view what) {
  while (true) {
    const int fd = PQsocket(conn_.get());
    if (fd < 0) throw_connection_error(what);
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) abandon(what);
    // Readable matters while writing too: libpq must consume what the server sends.
    pollfd watch{fd, static_cast<short>(for_write ? (POLLOUT | POLLIN) : POLLIN), 0};
    const int ready = poll(&watch, 1, static_cast<int>(std::min<long long>(left.count(), 60000)));
    if (ready > 0) return;
    if (ready < 0 && errno != EINTR) throw DbError(std::string("postgres: poll failed: ") + std::strerror(errno));
  }
}

void Connection::before_send(std::string_view what) {
  if (!conn_) throw DbError("postgres: " + std::string(what) + ": the connection was abandoned after a timeout");
  if (deadline_ && Clock::now() >= *deadline_) {
    // Nothing is sent. A session left inside a transaction cannot be
    // handed to the next request, so that one goes.
    if (PQtransactionStatus(conn_.get()) != PQTRANS_IDLE) conn_.reset();
    throw Timeout("postgres: " + std::string(what) + ": the request's time for the database has run out");
  }
}

PGresult* Connection::await_result(std::optional<Clock::time_point> deadline, std::string_view what) {
  PGconn* conn = conn_.get();
  const Clock::time_point until = deadline.value_or(Clock::time_point::max());
  // What a non-blocking send could not write yet.
  while (true) {
    const int flushed = PQflush(conn);
    if (flushed < 0) return nullptr;
    if (flushed == 0) break;
    wait_socket(true, until, what);
    if (PQconsumeInput(conn) == 0) return nullptr;
  }
  // PQexec's rule for several results (a script): the first error, else the last.
  std::unique_ptr<PGresult, ResultDeleter> kept;
  while (true) {
    if (PQconsumeInput(conn) == 0) return kept ? kept.release() : nullptr;
    while (PQisBusy(conn) == 0) {
      PGresult* next = PQgetResult(conn);
      if (next == nullptr) return kept.release();
      const ExecStatusType status = PQresultStatus(next);
      if (kept && PQresultStatus(kept.get()) == PGRES_FATAL_ERROR) {
        PQclear(next);
      } else {
        kept.reset(next);
      }
      // COPY is never used; stop rather than wait for data nobody sends.
      if (status == PGRES_COPY_IN || status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH) return kept.release();
    }
    wait_socket(false, until, what);
  }
}

Result Connection::check(PGresult* raw_result, std::span<const Param> params) {
  if (raw_result == nullptr) throw_connection_error("query failed");
  Result result(raw_result);
  switch (PQresultStatus(raw_result)) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
    case PGRES_EMPTY_QUERY:
      return result;
    case PGRES_FATAL_ERROR:
    case PGRES_NONFATAL_ERROR:
    case PGRES_BAD_RESPONSE:
      break;
    default:
      throw DbError(std::string("postgres: unexpected result status ") + PQresStatus(PQresultStatus(raw_result)));
  }
  const char* sqlstate = PQresultErrorField(raw_result, PG_DIAG_SQLSTATE);
  if (sqlstate == nullptr || *sqlstate == '\0') {
    // No SQLSTATE: libpq itself failed (the connection broke under the query).
    throw_connection_error("query failed");
  }
  const char* primary = PQresultErrorField(raw_result, PG_DIAG_MESSAGE_PRIMARY);
  const char* position = PQresultErrorField(raw_result, PG_DIAG_STATEMENT_POSITION);
  const std::string message = redact_params(primary != nullptr ? primary : "unknown error", params);
  throw QueryError(sqlstate, "postgres: " + one_line(message) + " (SQLSTATE " + sqlstate + ")",
                   position != nullptr ? std::atoi(position) : 0);
}

Result Connection::exec(std::string_view sql, std::span<const Param> params) {
  const TextParams text(params);
  const std::string statement(sql);
  before_send("query failed");
  if (PQsendQueryParams(conn_.get(), statement.c_str(), text.count(), nullptr, text.values(), nullptr, nullptr,
                        0) == 0) {
    throw_connection_error("query failed");
  }
  return check(await_result(statement_deadline(), "query failed"), params);
}

void Connection::exec_script(std::string_view sql) {
  const std::string script(sql);
  before_send("query failed");
  if (PQsendQuery(conn_.get(), script.c_str()) == 0) throw_connection_error("query failed");
  check(await_result(statement_deadline(), "query failed"), {});
}

void Connection::send_prepare(const std::string& name, const std::string& sql) {
  before_send("prepare failed");
  if (PQsendPrepare(conn_.get(), name.c_str(), sql.c_str(), 0, nullptr) == 0) throw_connection_error("prepare failed");
  check(await_result(statement_deadline(), "prepare failed"), {});
}

void Connection::prepare(const std::string& name, std::string_view sql) {
  const auto known = std::find_if(prepared_.begin(), prepared_.end(), [&](const auto& p) { return p.first == name; });
  if (known != prepared_.end()) {
    if (known->second == sql) return;
    throw DbError("postgres: statement '" + name + "' is already prepared with different SQL");
  }
  std::string statement(sql);
  send_prepare(name, statement);
  prepared_.emplace_back(name, std::move(statement));
}

Result Connection::exec_prepared(const std::string& name, std::span<const Param> params) {
  const TextParams text(params);
  before_send("query failed");
  if (PQsendQueryPrepared(conn_.get(), name.c_str(), text.count(), text.values(), nullptr, nullptr, 0) == 0) {
    throw_connection_error("query failed");
  }
  return check(await_result(statement_deadline(), "query failed"), params);
}

bool Connection::healthy() const { return conn_ && PQstatus(conn_.get()) == CONNECTION_OK; }

void Connection::reset() {
  conn_.reset();
  connect();
  // Prepared statements live in the server session, which is a new one now.
  for (const auto& [name, sql] : prepared_) send_prepare(name, sql);
}

// --- Transaction ----------------------------------------------------------------

Transaction::Transaction(Connection& conn, std::string_view begin_sql) : conn_(conn) { conn_.exec(begin_sql); }

Transaction::~Transaction() {
  if (done_ || !conn_.healthy()) return;
  try {
    conn_.exec("ROLLBACK");
  } catch (const std::exception& e) {
    log::warning("pg_rollback_failed").kv("error", e.what());
  }
}

void Transaction::commit() {
  // Marked first: whatever COMMIT answers, the transaction is over, and a
  // ROLLBACK from the destructor would only draw a warning.
  done_ = true;
  const Result result = conn_.exec("COMMIT");
  // The server answers COMMIT in a failed transaction with a ROLLBACK tag and
  // no error; the caller must not believe its writes are durable.
  if (result.command_tag() == "ROLLBACK") {
    throw DbError("postgres: transaction was rolled back: a statement in it had failed");
  }
}

}  // namespace wagate::pg
