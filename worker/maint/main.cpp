// main.cpp — wagate-maint: periodic jobs (reconcile, ...), each under a Postgres advisory lock so one host runs it at a time.
#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "distribution_breaker.hpp"
#include "price_job.hpp"
#include "reconcile.hpp"
#include "retention_job.hpp"
#include "rollup_job.hpp"
#include "wagate/config.hpp"
#include "wagate/log.hpp"
#include "wagate/pg.hpp"
#include "wagate/process.hpp"

namespace {

using namespace wagate;

constexpr const char* kUsage =
    "usage: wagate-maint run [--once] [--job NAME]... [--config PATH]\n"
    "  Runs the maintenance jobs, each when due, until SIGTERM; --once runs each selected job one time\n"
    "  and exits (for tests and a systemd timer). Without --job, every job runs.\n"
    "jobs:\n"
    "  reconcile  every 30 s: sends whose outcome is unknown are looked up in Twilio's message list;\n"
    "             claims left by a dead sender become unknown; callbacks that missed their SID are applied\n"
    "  rollup     every 5 s: the delivery-metrics rollup of the hours whose messages changed since its last run\n"
    "  retention  every hour: months of messages older than retention_days archived (archive_dir) and dropped\n"
    "             with their history; partitions made for the months ahead; expired idempotency keys deleted\n"
    "  distribution_breaker  every 5 s: a running distribution whose recent messages fail (breaker_* keys)\n"
    "             pauses, with the reason in its status_reason\n"
    "  price      every 30 s: Twilio's price of final messages not priced yet (price_batch per tenant a run,\n"
    "             asked again after price_recheck_seconds, given up after price_give_up_hours)\n";

struct Job {
  std::string_view name;
  // pg_try_advisory_lock key: the job's name in ASCII ("wagrec"), so keys
  // of different jobs (and of migrations, "wagmig") never meet.
  long long lock_key;
  std::chrono::seconds every;
  std::function<void(pg::Connection&, const config::Config&)> run;
};

const std::vector<Job>& jobs() {
  static const std::vector<Job> kJobs = {
      {"reconcile", 131260231083363LL, std::chrono::seconds(30),
       [](pg::Connection& db, const config::Config& config) {
         const maint::ReconcileStats stats = maint::reconcile(db, config);
         log::info("job_done")
             .kv("job", "reconcile")
             .kv("stale_claims", stats.stale_claims)
             .kv("orphaned_events", stats.orphaned_events)
             .kv("checked", stats.checked)
             .kv("found", stats.found)
             .kv("resent", stats.resent)
             .kv("gave_up", stats.gave_up)
             .kv("pending", stats.pending);
       }},
      // "wagrol"; metrics queries read the changed hours from the messages
      // until this run catches up, so its period only bounds their cost.
      {"rollup", 131260231085932LL, std::chrono::seconds(5),
       [](pg::Connection& db, const config::Config&) {
         const maint::RollupStats stats = maint::rollup(db);
         // Every 5 s: a run that found nothing to do is not worth a line.
         (stats.hours > 0 ? log::info : log::debug)("job_done")
             .kv("job", "rollup")
             .kv("full", stats.full)
             .kv("hours", stats.hours)
             .kv("days", stats.days)
             .kv("rows", stats.rows);
       }},
      // "wagret"; dropping a month is cheap, so hourly runs cost little and
      // pick up a new boundary within the hour after midnight UTC.
      {"retention", 131260231083380LL, std::chrono::hours(1),
       [](pg::Connection& db, const config::Config& config) {
         const maint::RetentionStats stats = maint::retention(db, config);
         log::info("job_done")
             .kv("job", "retention")
             .kv("boundary", stats.boundary)
             .kv("partitions_created", stats.partitions_created)
             .kv("months_moved", stats.months_moved)
             .kv("partitions_dropped", static_cast<long long>(stats.dropped.size()))
             .kv("messages_dropped", stats.messages_dropped)
             .kv("messages_archived", stats.messages_archived)
             .kv("index_rows_deleted", stats.index_rows_deleted)
             .kv("events_deleted", stats.events_deleted)
             .kv("idempotency_keys_deleted", stats.idempotency_keys_deleted);
       }},
      // "wagbrk"; every 5 s, so a distribution failing at its full pace
      // sends at most a few seconds' worth more before it pauses.
      {"distribution_breaker", 131260230038123LL, std::chrono::seconds(5),
       [](pg::Connection& db, const config::Config& config) {
         const maint::BreakerStats stats = maint::distribution_breaker(db, config);
         (stats.paused > 0 ? log::info : log::debug)("job_done")
             .kv("job", "distribution_breaker")
             .kv("checked", stats.checked)
             .kv("paused", stats.paused);
       }},
      // "wagprc"; every 30 s with at most price_batch fetches per tenant:
      // Twilio prices a message minutes after its final status anyway.
      {"price", 131260230955619LL, std::chrono::seconds(30),
       [](pg::Connection& db, const config::Config& config) {
         const maint::PriceStats stats = maint::price(db, config);
         (stats.checked + stats.gave_up > 0 ? log::info : log::debug)("job_done")
             .kv("job", "price")
             .kv("checked", stats.checked)
             .kv("priced", stats.priced)
             .kv("pending", stats.pending)
             .kv("gave_up", stats.gave_up)
             .kv("rate_limited", stats.rate_limited);
       }},
  };
  return kJobs;
}

// Runs one job if no other process holds its lock. A session-level lock:
// released by pg_advisory_unlock, or by the server if this process dies.
// Returns false when the job failed.
bool run_job(const Job& job, std::unique_ptr<pg::Connection>& db, const config::Config& config) {
  const auto started = std::chrono::steady_clock::now();
  try {
    if (!db || !db->healthy()) db = std::make_unique<pg::Connection>(config.str("pg_dsn"));
    const std::string key = std::to_string(job.lock_key);
    if (db->exec("SELECT pg_try_advisory_lock($1::bigint)", {key}).get(0, 0) != "t") {
      log::info("job_skipped").kv("job", job.name).kv("reason", "running elsewhere");
      return true;
    }
    try {
      job.run(*db, config);
    } catch (...) {
      if (db->healthy()) db->exec("SELECT pg_advisory_unlock($1::bigint)", {key});
      throw;
    }
    db->exec("SELECT pg_advisory_unlock($1::bigint)", {key});
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    log::debug("job_finished").kv("job", job.name).kv("dur_ms", static_cast<long long>(elapsed.count()));
    return true;
  } catch (const std::exception& e) {
    log::error("job_failed").kv("job", job.name).kv("error", e.what());
    if (db && !db->healthy()) db.reset();
    return false;
  }
}

// Each selected job when due until the first TERM/INT (a job under way
// finishes first); with once, each one time. Returns the exit code.
int run_jobs(const std::vector<const Job*>& selected, bool once, config::Holder& holder,
             const std::atomic<int>& stop_requests) {
  std::unique_ptr<pg::Connection> db;
  if (once) {
    bool ok = true;
    for (const Job* job : selected) ok = run_job(*job, db, *holder.current()) && ok;
    return ok ? 0 : 1;
  }
  std::vector<std::chrono::steady_clock::time_point> next(selected.size(), std::chrono::steady_clock::now());
  log::info("maint_started").kv("jobs", selected.size());
  while (stop_requests.load() == 0) {
    if (holder.reload_if_requested()) log::set_level(log::parse_level(holder.current()->str("log_level")));
    const auto now = std::chrono::steady_clock::now();
    for (size_t i = 0; i < selected.size() && stop_requests.load() == 0; ++i) {
      if (now < next[i]) continue;
      run_job(*selected[i], db, *holder.current());
      next[i] = std::chrono::steady_clock::now() + selected[i]->every;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  log::info("stopped").kv("process", "wagate-maint");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool once = false;
  std::vector<const Job*> selected;
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty() || args[0] != "run") {
    std::cerr << kUsage;
    return args.size() == 1 && (args[0] == "--help" || args[0] == "-h") ? 0 : 2;
  }
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--once") {
      once = true;
    } else if (args[i] == "--job" && i + 1 < args.size()) {
      const std::string_view name = args[++i];
      const Job* found = nullptr;
      for (const Job& job : jobs()) {
        if (job.name == name) found = &job;
      }
      if (found == nullptr) {
        std::cerr << "wagate-maint: unknown job '" << name << "'\n" << kUsage;
        return 2;
      }
      selected.push_back(found);
    } else if (args[i] == "--config" && i + 1 < args.size()) {
      ++i;  // read by config::path_from
    } else if (args[i].starts_with("--config=")) {
      continue;
    } else {
      std::cerr << "wagate-maint: unexpected argument '" << args[i] << "'\n" << kUsage;
      return 2;
    }
  }
  if (selected.empty()) {
    for (const Job& job : jobs()) selected.push_back(&job);
  }

  return process::run_worker("wagate-maint", argc, argv,
                             [&](config::Holder& holder, const std::atomic<int>& stop_requests) {
                               return run_jobs(selected, once, holder, stop_requests);
                             });
}
