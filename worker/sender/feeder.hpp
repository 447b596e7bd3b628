// feeder.hpp — moves planned distribution recipients into the send queue: paced, inside send windows, exactly once.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wagate::pg {
class Connection;
}
namespace wagate::redis {
class Client;
}

namespace wagate::sender {

// How many recipients one pass may queue for a distribution, and the credit
// it leaves for the next. The credit carries fractions (3 per second at a
// 300 ms interval is 0.9 a pass: 0, 1, 1, 1, ...) and never grows past one
// interval's worth plus one message (the carried fraction), so a
// distribution that waited (a window, a pause, a crash) does not burst: the
// queue holds at most that much of it.
struct FeedBudget {
  long long count = 0;  // whole messages this pass may make
  double credit = 0;    // what is left once `count` is used: keep it when fewer were fed
};
// credit: left by the last pass; rate: messages per second (the lower of the
// distribution's rate_per_second and its sender number's limit); elapsed and
// interval in seconds (elapsed since the last pass, interval: the feeder's).
[[nodiscard]] FeedBudget feed_budget(double credit, double rate, double elapsed_seconds, double interval_seconds);

// The credit to store after a pass that made `fed` messages out of `budget`.
[[nodiscard]] double credit_after(const FeedBudget& budget, long long fed);

// The time zone a phone's country calling code stands for, when the contact
// gave none: a country with several zones uses its most populous one (+1:
// America/New_York, +7: Europe/Moscow, +55: America/Sao_Paulo, +61:
// Australia/Sydney, ...); a code not in the table: "UTC". Longest prefix wins.
[[nodiscard]] std::string_view timezone_for_phone(std::string_view e164);

// The table above, calling code (digits) -> IANA zone, as a JSON object: the
// feeder's SQL applies it to recipients without a timezone, so the table has
// one home.
[[nodiscard]] const std::vector<std::pair<std::string_view, std::string_view>>& calling_code_timezones();
[[nodiscard]] std::string calling_code_timezones_json();

// A message the feeder committed, to be put on the queue.
struct FedMessage {
  std::string id;
  long long tenant_id = 0;
  std::string created_at;
};

// One pass over the distributions that may send now. Its own connection:
// each distribution is fed in its own transaction, which may not interleave
// with the sender's autocommit statements. Used from the sender's loop only.
class Feeder {
 public:
  explicit Feeder(std::string dsn);
  Feeder(const Feeder&) = delete;
  Feeder& operator=(const Feeder&) = delete;
  ~Feeder();

  // Feeds every distribution that is due (scheduled with send_at passed, or
  // running), round robin, each within its own budget, and returns what it
  // committed. A distribution another sender is feeding (its row locked) is
  // skipped this pass. Throws DbError when Postgres is unreachable; what was
  // committed before then is in `fed` already.
  void pass(int default_mps, std::chrono::milliseconds interval, std::vector<FedMessage>& fed);

 private:
  pg::Connection& db();
  // Feeds one distribution in one transaction; false: it was not ours to feed.
  bool feed_one(const std::string& id, int default_mps, std::chrono::milliseconds interval,
                std::vector<FedMessage>& fed);

  std::string dsn_;
  std::unique_ptr<pg::Connection> db_;
  std::string zones_json_;         // calling_code_timezones_json(), less zones Postgres does not know
  std::string round_robin_after_;  // the distribution fed first last pass goes last next pass
};

// Queues fed messages on the normal stream (transactional /send traffic is
// on the high one). Throws RedisError; a message whose entry is lost is
// queued again by the sweeper (its next_attempt_at).
void enqueue_fed(redis::Client& redis, const std::vector<FedMessage>& fed);

}  // namespace wagate::sender
