// prometheus.cpp — GET /metrics: every process's counters merged, plus queue, spool and database gauges read now.
#include "prometheus.hpp"

#include <hiredis/hiredis.h>

#include <string>
#include <string_view>

#include "wagate/error.hpp"
#include "wagate/metrics.hpp"
#include "wagate/pg.hpp"
#include "wagate/redis.hpp"
#include "wagate/send_queue.hpp"
#include "wagate/spool.hpp"

namespace wagate::api {
namespace {

// Statuses of outbound messages that wagate still has to act on; what
// Twilio holds shows in the callbacks instead.
constexpr std::string_view kUnfinished[] = {"accepted", "retrying", "dispatching", "unknown"};

// Each status's own partial index (001, 003) answers its count.
constexpr std::string_view kCountUnfinished =
    "SELECT status, count(*) FROM messages WHERE status IN ('accepted', 'unknown', 'retrying') GROUP BY status "
    "UNION ALL SELECT 'dispatching', count(*) FROM messages WHERE status = 'dispatching'";

// From the partition names (messages_YYYY_MM, UTC months), not the rows.
constexpr std::string_view kPartitionBounds =
    "SELECT extract(epoch FROM min(month)::timestamp AT TIME ZONE 'UTC')::float8, "
    "extract(epoch FROM (max(month) + interval '1 month') AT TIME ZONE 'UTC')::float8 "
    "FROM (SELECT to_date(substr(c.relname, 10), 'YYYY_MM') AS month "
    "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
    "WHERE i.inhparent = 'messages'::regclass AND c.relname ~ '^messages_[0-9]{4}_[0-9]{2}$') p";

// The "lag" of our consumer group in an XINFO GROUPS reply (a list of
// name/value lists); nullopt when Redis cannot tell (entries deleted in the
// middle of the stream) or the group does not exist yet.
std::optional<long long> group_lag(const redis::Reply& groups) {
  for (size_t g = 0; g < groups.size(); ++g) {
    const redisReply* group = groups.element(g);
    if (group == nullptr || group->type != REDIS_REPLY_ARRAY) continue;
    bool ours = false;
    std::optional<long long> lag;
    for (size_t i = 0; i + 1 < group->elements; i += 2) {
      const redisReply* key = group->element[i];
      const redisReply* value = group->element[i + 1];
      if (key->type != REDIS_REPLY_STRING && key->type != REDIS_REPLY_STATUS) continue;
      const std::string_view name(key->str, key->len);
      if (name == "name" && value->type == REDIS_REPLY_STRING) {
        ours = std::string_view(value->str, value->len) == send_queue::kGroup;
      } else if (name == "lag" && value->type == REDIS_REPLY_INTEGER) {
        lag = value->integer;
      }
    }
    if (ours) return lag;
  }
  return std::nullopt;
}

bool read_send_queue(Context& context, metrics::Registry& now) {
  auto& depth = now.gauge("wagate_send_queue_depth",
                          "Entries in a send stream (XLEN), until trimmed also those senders have finished.",
                          {"priority"});
  auto& pending = now.gauge("wagate_send_queue_pending",
                            "Entries a sender has read and not yet acknowledged (XPENDING).", {"priority"});
  auto& lag = now.gauge("wagate_send_queue_lag", "Entries no sender has read yet (the consumer group's lag).",
                        {"priority"});
  try {
    redis::Client& redis = context.redis();
    for (const auto priority : {send_queue::Priority::High, send_queue::Priority::Normal}) {
      const std::string_view label = priority == send_queue::Priority::High ? "high" : "normal";
      const std::string_view stream = send_queue::stream_for(priority);
      depth.with({label}).set(static_cast<double>(redis.command({"XLEN", stream}).integer()));
      // An error reply (NOGROUP: no sender has run yet) means nothing is pending.
      const redis::Reply summary = redis.command({"XPENDING", stream, send_queue::kGroup});
      const redisReply* count = summary.is_error() ? nullptr : summary.element(0);
      pending.with({label}).set(count != nullptr && count->type == REDIS_REPLY_INTEGER
                                    ? static_cast<double>(count->integer)
                                    : 0.0);
      const redis::Reply groups = redis.command({"XINFO", "GROUPS", stream});
      if (const auto behind = groups.is_error() ? std::nullopt : group_lag(groups)) {
        lag.with({label}).set(static_cast<double>(*behind));
      }
    }
    return true;
  } catch (const RedisError&) {
    return false;
  }
}

bool read_database(Context& context, metrics::Registry& now) {
  auto& unfinished = now.gauge("wagate_messages_unfinished",
                               "Outbound messages wagate has not yet handed to Twilio, or whose send has no known "
                               "outcome, by status.",
                               {"status"});
  auto& since = now.gauge("wagate_messages_retained_since_seconds",
                          "Start of the oldest month of messages kept, in seconds since the Unix epoch.");
  auto& until = now.gauge("wagate_messages_partitioned_until_seconds",
                          "End of the last monthly messages partition, in seconds since the Unix epoch.");
  try {
    pg::Connection& db = context.db();
    pg::Transaction tx(db);
    // A scrape must not wait on a busy database for longer than Prometheus waits for it.
    db.exec("SET LOCAL statement_timeout = '2s'");
    const pg::Result counts = db.exec(kCountUnfinished);
    for (const std::string_view status : kUnfinished) {
      double value = 0;
      for (int row = 0; row < counts.rows(); ++row) {
        if (counts.get(row, 0) == status) value += static_cast<double>(counts.get_int(row, 1));
      }
      unfinished.with({status}).set(value);
    }
    const pg::Result bounds = db.exec(kPartitionBounds);
    if (bounds.rows() == 1 && !bounds.is_null(0, 0)) {
      since.with().set(std::stod(std::string(bounds.get(0, 0))));
      until.with().set(std::stod(std::string(bounds.get(0, 1))));
    }
    tx.commit();
    return true;
  } catch (const DbError&) {
    return false;  // Context::db() replaces a broken connection on next use
  }
}

bool read_spool(const config::Config& config, metrics::Registry& now) {
  try {
    const spool::Stats stats = spool::stats(config.str("spool_dir"));
    now.gauge("wagate_spool_records", "Webhook records in the local spool, waiting to be replayed into Postgres.")
        .with()
        .set(static_cast<double>(stats.records));
    now.gauge("wagate_spool_bytes", "Size of the local spool's files, in bytes.")
        .with()
        .set(static_cast<double>(stats.bytes));
    now.gauge("wagate_spool_files", "Files in the local spool.").with().set(static_cast<double>(stats.files));
    return true;
  } catch (const Error&) {
    return false;
  }
}

}  // namespace

http::Response prometheus(http::Request& /*request*/, Context& context) {
  const config::Config& config = context.config();
  metrics::Exposition exposition = metrics::collect(config.str("metrics_dir"));
  metrics::Registry now;
  auto& up = now.gauge("wagate_metrics_source_up", "1 when this scrape could read the source, else 0.", {"source"});
  up.with({"spool"}).set(read_spool(config, now) ? 1 : 0);
  up.with({"redis"}).set(read_send_queue(context, now) ? 1 : 0);
  up.with({"postgres"}).set(read_database(context, now) ? 1 : 0);
  exposition.add(now.render());
  http::Response response;
  response.content_type = "text/plain; version=0.0.4";
  response.body = exposition.render();
  return response;
}

}  // namespace wagate::api
