// queue.cpp — the sender's side of the Redis Streams send queue: read by priority, acknowledge, reclaim, trim.
#include "queue.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <map>
#include <utility>

#include "wagate/error.hpp"
#include "wagate/log.hpp"

namespace wagate::sender {
namespace {

// Each command waits at most this long; a blocking read asks for less.
constexpr std::chrono::milliseconds kCommandTimeout{2000};

std::string_view reply_text(const redisReply* reply) {
  if (reply == nullptr) return {};
  if (reply->type != REDIS_REPLY_STRING && reply->type != REDIS_REPLY_STATUS) return {};
  return {reply->str, reply->len};
}

// A field of a RESP2 "map" (flat name/value array), e.g. one XINFO GROUPS item.
const redisReply* map_field(const redisReply* map, std::string_view name) {
  if (map == nullptr || map->type != REDIS_REPLY_ARRAY) return nullptr;
  for (size_t i = 0; i + 1 < map->elements; i += 2) {
    if (reply_text(map->element[i]) == name) return map->element[i + 1];
  }
  return nullptr;
}

// A stream id "ms-seq" as a comparable pair; "0-0" when it cannot be read.
std::pair<unsigned long long, unsigned long long> parse_id(std::string_view id) {
  unsigned long long ms = 0;
  unsigned long long seq = 0;
  const size_t dash = id.find('-');
  if (dash == std::string_view::npos) return {0, 0};
  const char* const end = id.data() + id.size();
  const auto ms_read = std::from_chars(id.data(), id.data() + dash, ms);
  const auto seq_read = std::from_chars(id.data() + dash + 1, end, seq);
  if (ms_read.ec != std::errc() || ms_read.ptr != id.data() + dash || seq_read.ec != std::errc() ||
      seq_read.ptr != end) {
    return {0, 0};
  }
  return {ms, seq};
}

}  // namespace

std::string consumer_name() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return std::string(host[0] != '\0' ? host : "sender") + "-" + std::to_string(getpid());
}

Queue::Queue(const std::string& redis_url, std::string consumer)
    : redis_(redis_url, kCommandTimeout), consumer_(std::move(consumer)) {}

void Queue::ensure_groups() { send_queue::ensure_groups(redis_); }

std::vector<send_queue::Entry> Queue::read_streams(const std::vector<std::string_view>& streams, int count,
                                                   std::chrono::milliseconds block) {
  const std::string count_text = std::to_string(count);
  const std::string block_text = std::to_string(block.count());
  std::vector<std::string_view> args = {"XREADGROUP", "GROUP", send_queue::kGroup, consumer_, "COUNT", count_text};
  if (block.count() > 0) {
    args.push_back("BLOCK");
    args.push_back(block_text);
  }
  args.push_back("STREAMS");
  for (const auto stream : streams) args.push_back(stream);
  for (size_t i = 0; i < streams.size(); ++i) args.push_back(">");
  redis::Reply reply = redis_.command(args);
  if (reply.is_error() && reply.str().starts_with("NOGROUP")) {
    // Redis lost the groups (restarted without its data): recreate them.
    // Postgres still knows every message; the sweeper queues them again.
    log::warning("send_queue_group_missing").kv("consumer", consumer_);
    ensure_groups();
    reply = redis_.command(args);
  }
  if (reply.is_error()) throw RedisError("redis: XREADGROUP failed: " + std::string(reply.str()));
  std::vector<send_queue::Entry> entries;
  // [[stream, [[id, [field, value, ...]], ...]], ...] or nil when nothing came.
  for (size_t s = 0; s < reply.size(); ++s) {
    const redisReply* item = reply.element(s);
    if (item == nullptr || item->type != REDIS_REPLY_ARRAY || item->elements != 2) continue;
    auto parsed = send_queue::parse_entries(reply_text(item->element[0]), item->element[1]);
    for (auto& entry : parsed) entries.push_back(std::move(entry));
  }
  return entries;
}

std::vector<send_queue::Entry> Queue::read(int count, std::chrono::milliseconds block) {
  auto entries = read_streams({send_queue::kHighStream}, count, std::chrono::milliseconds(0));
  const int left = count - static_cast<int>(entries.size());
  if (left > 0) {
    auto normal = read_streams({send_queue::kNormalStream}, left, std::chrono::milliseconds(0));
    for (auto& entry : normal) entries.push_back(std::move(entry));
  }
  if (entries.empty() && block.count() > 0) {
    entries = read_streams({send_queue::kHighStream, send_queue::kNormalStream}, count, block);
  }
  return entries;
}

void Queue::ack(const std::vector<send_queue::Entry>& entries) {
  std::map<std::string, std::vector<std::string_view>> by_stream;
  for (const auto& entry : entries) by_stream[entry.stream].push_back(entry.stream_id);
  for (const auto& [stream, ids] : by_stream) {
    std::vector<std::string_view> args = {"XACK", stream, send_queue::kGroup};
    args.insert(args.end(), ids.begin(), ids.end());
    const redis::Reply reply = redis_.command(args);
    if (reply.is_error()) throw RedisError("redis: XACK failed: " + std::string(reply.str()));
  }
}

std::vector<send_queue::Entry> Queue::reclaim(std::chrono::milliseconds min_idle, int count) {
  std::vector<send_queue::Entry> entries;
  const std::string idle_text = std::to_string(min_idle.count());
  for (const auto stream : {send_queue::kHighStream, send_queue::kNormalStream}) {
    const int left = count - static_cast<int>(entries.size());
    if (left <= 0) break;
    const std::string count_text = std::to_string(left);
    const redis::Reply reply = redis_.command(
        {"XAUTOCLAIM", stream, send_queue::kGroup, consumer_, idle_text, "0-0", "COUNT", count_text});
    if (reply.is_error()) {
      if (reply.str().starts_with("NOGROUP")) continue;
      throw RedisError("redis: XAUTOCLAIM failed: " + std::string(reply.str()));
    }
    // [next cursor, [[id, fields], ...], [deleted ids]]
    if (reply.size() < 2) continue;
    auto parsed = send_queue::parse_entries(stream, reply.element(1));
    for (auto& entry : parsed) entries.push_back(std::move(entry));
  }
  return entries;
}

Queue::ReadPosition Queue::read_position(std::string_view stream) {
  ReadPosition position;
  const redis::Reply info = redis_.command({"XINFO", "STREAM", stream});
  if (info.is_error()) {
    // No stream (Redis restarted empty): nothing waits in it.
    if (info.str().starts_with("ERR no such key")) return position;
    throw RedisError("redis: XINFO STREAM failed: " + std::string(info.str()));
  }
  const auto last_added = parse_id(reply_text(map_field(info.raw(), "last-generated-id")));
  // Without the group (not created yet) nothing was delivered: "0-0".
  std::pair<unsigned long long, unsigned long long> delivered{0, 0};
  const redis::Reply groups = redis_.command({"XINFO", "GROUPS", stream});
  if (groups.is_error()) throw RedisError("redis: XINFO GROUPS failed: " + std::string(groups.str()));
  for (size_t i = 0; i < groups.size(); ++i) {
    const redisReply* group = groups.element(i);
    if (reply_text(map_field(group, "name")) != send_queue::kGroup) continue;
    delivered = parse_id(reply_text(map_field(group, "last-delivered-id")));
  }
  position.entries_waiting = last_added > delivered;
  position.delivered_through_ms = static_cast<long long>(std::min<unsigned long long>(delivered.first, LLONG_MAX));
  return position;
}

void Queue::trim() {
  for (const auto stream : {send_queue::kHighStream, send_queue::kNormalStream}) {
    const redis::Reply pending = redis_.command({"XPENDING", stream, send_queue::kGroup});
    if (pending.is_error()) continue;  // no stream or no group yet: nothing to trim
    std::string min_id;
    // [count, smallest id, greatest id, [[consumer, count], ...]]
    if (pending.size() >= 2 && pending.element(0)->type == REDIS_REPLY_INTEGER && pending.element(0)->integer > 0) {
      min_id = reply_text(pending.element(1));
    } else {
      const redis::Reply groups = redis_.command({"XINFO", "GROUPS", stream});
      for (size_t i = 0; i < groups.size(); ++i) {
        const redisReply* group = groups.element(i);
        if (reply_text(map_field(group, "name")) != send_queue::kGroup) continue;
        min_id = reply_text(map_field(group, "last-delivered-id"));
      }
    }
    if (min_id.empty() || min_id == "0-0") continue;
    // "~": whole internal nodes only, which is cheap; what stays is trimmed next time.
    const redis::Reply trimmed = redis_.command({"XTRIM", stream, "MINID", "~", min_id});
    if (trimmed.is_error()) throw RedisError("redis: XTRIM failed: " + std::string(trimmed.str()));
  }
}

}  // namespace wagate::sender
