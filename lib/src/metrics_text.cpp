// metrics_text.cpp — the Prometheus text format: escaping, values, and parsing per-process files to sum them.
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "wagate/metrics.hpp"

namespace wagate::metrics {
namespace {

std::string_view metric_name_of(std::string_view series) { return series.substr(0, series.find('{')); }

// A sample of `family` is named like it, or with a histogram's suffix.
bool belongs_to(std::string_view sample_name, std::string_view family) {
  if (!sample_name.starts_with(family)) return false;
  const std::string_view suffix = sample_name.substr(family.size());
  return suffix.empty() || suffix == "_bucket" || suffix == "_sum" || suffix == "_count";
}

std::optional<double> parse_value(std::string_view text) {
  if (text == "+Inf") return HUGE_VAL;
  if (text == "-Inf") return -HUGE_VAL;
  if (text == "NaN") return std::nan("");
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// Splits "word rest" at the first blank.
std::pair<std::string_view, std::string_view> split_word(std::string_view text) {
  const size_t blank = text.find(' ');
  if (blank == std::string_view::npos) return {text, {}};
  return {text.substr(0, blank), text.substr(blank + 1)};
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[32];
  // Shortest text that reads back as the same double: "3", "0.005", "1e+20".
  const auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
  if (error != std::errc()) return "NaN";
  return std::string(buffer, end);
}

Exposition::Family* Exposition::family(std::string_view name) {
  const std::string key(name);
  if (const auto found = index_.find(key); found != index_.end()) return &families_[found->second];
  index_.emplace(key, families_.size());
  families_.push_back(Family{key, {}, {}, {}, {}});
  return &families_.back();
}

void Exposition::add(std::string_view text, bool cumulative_only) {
  Family* current = nullptr;
  std::string_view pending_help_name;
  std::string_view pending_help;
  while (!text.empty()) {
    const size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    if (line.empty()) continue;
    if (line.starts_with("# HELP ")) {
      // HELP comes before TYPE; the family is created by TYPE, once it is
      // known whether it is kept at all.
      std::tie(pending_help_name, pending_help) = split_word(line.substr(7));
      continue;
    }
    if (line.starts_with("# TYPE ")) {
      const auto [name, type] = split_word(line.substr(7));
      current = nullptr;
      if (name.empty() || type.empty()) continue;
      if (cumulative_only && type != "counter" && type != "histogram") continue;
      current = family(name);
      if (current->type.empty()) current->type = type;
      if (current->type != type) {
        current = nullptr;  // the same name with two types: keep the first
        continue;
      }
      if (current->help.empty() && pending_help_name == name) current->help = pending_help;
      continue;
    }
    if (line.front() == '#') continue;
    const size_t blank = line.rfind(' ');
    if (current == nullptr || blank == std::string_view::npos) continue;
    const std::string_view series = line.substr(0, blank);
    const auto value = parse_value(line.substr(blank + 1));
    if (!value || !belongs_to(metric_name_of(series), current->name)) continue;
    const std::string key(series);
    if (const auto found = current->index.find(key); found != current->index.end()) {
      current->series[found->second].second += *value;
    } else {
      current->index.emplace(key, current->series.size());
      current->series.emplace_back(key, *value);
    }
  }
}

std::string Exposition::render() const {
  std::string out;
  for (const Family& family : families_) {
    if (family.series.empty()) continue;
    if (!family.help.empty()) out += "# HELP " + family.name + " " + family.help + "\n";
    out += "# TYPE " + family.name + " " + family.type + "\n";
    for (const auto& [series, value] : family.series) out += series + " " + format_value(value) + "\n";
  }
  return out;
}

std::optional<double> Exposition::value(std::string_view series) const {
  const auto found = index_.find(std::string(metric_name_of(series)));
  const Family* owner = nullptr;
  if (found != index_.end()) {
    owner = &families_[found->second];
  } else {
    // A histogram's _bucket/_sum/_count belong to the family without the suffix.
    for (const Family& candidate : families_) {
      if (belongs_to(metric_name_of(series), candidate.name)) owner = &candidate;
    }
  }
  if (owner == nullptr) return std::nullopt;
  const auto at = owner->index.find(std::string(series));
  if (at == owner->index.end()) return std::nullopt;
  return owner->series[at->second].second;
}

}  // namespace wagate::metrics
