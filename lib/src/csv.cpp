// csv.cpp — RFC 4180 CSV: an incremental, bounded parser fed in chunks, and a writer that quotes what must be.
#include "wagate/csv.hpp"

#include "wagate/text.hpp"

namespace wagate::csv {
namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

}  // namespace

std::string Error::text() const {
  return "row " + std::to_string(row) + ", column " + std::to_string(column) + " (line " + std::to_string(line) +
         "): " + message;
}

Parser::Parser(Limits limits) : limits_(limits) {}

bool Parser::fail(std::string message) {
  error_ = Error{row_number_, row_.size() + 1, line_, std::move(message)};
  return false;
}

bool Parser::push_char(char c) {
  if (field_.size() >= limits_.max_field_bytes) {
    return fail("field is longer than " + std::to_string(limits_.max_field_bytes) + " bytes");
  }
  field_.push_back(c);
  return true;
}

bool Parser::end_field() {
  if (!text::valid_utf8(field_)) return fail("field is not valid UTF-8");
  if (row_.size() >= limits_.max_fields) {
    return fail("row has more than " + std::to_string(limits_.max_fields) + " fields");
  }
  row_.push_back(std::move(field_));
  field_.clear();
  return true;
}

bool Parser::end_row(std::vector<Row>& rows) {
  if (!row_has_content_) {
    row_.clear();
    return true;
  }
  if (!end_field()) return false;
  if (width_ == 0) {
    width_ = row_.size();
  } else if (row_.size() != width_) {
    error_ = Error{row_number_, row_.size(), line_,
                   "row has " + std::to_string(row_.size()) + " fields, the first row has " + std::to_string(width_)};
    return false;
  }
  rows.push_back(std::move(row_));
  row_.clear();
  row_has_content_ = false;
  ++row_number_;
  return true;
}

bool Parser::feed(std::string_view chunk, std::vector<Row>& rows) {
  if (error_) return false;
  size_t i = 0;
  // The byte order mark may itself be split across chunks.
  while (!started_ && i < chunk.size()) {
    if (chunk[i] == kBom[bom_matched_]) {
      ++bom_matched_;
      ++i;
      if (bom_matched_ == kBom.size()) started_ = true;
      continue;
    }
    started_ = true;
    // A partial mark followed by something else was data after all.
    const std::string_view partial = kBom.substr(0, bom_matched_);
    bom_matched_ = 0;
    if (!partial.empty() && !feed(partial, rows)) return false;
  }
  for (; i < chunk.size(); ++i) {
    const char c = chunk[i];
    switch (state_) {
      case State::FieldStart:
        if (c == '"') {
          row_has_content_ = true;
          state_ = State::Quoted;
          break;
        }
        [[fallthrough]];
      case State::Unquoted:
        if (c == ',') {
          row_has_content_ = true;
          if (!end_field()) return false;
          state_ = State::FieldStart;
        } else if (c == '\n') {
          if (!end_row(rows)) return false;
          ++line_;
          state_ = State::FieldStart;
        } else if (c == '\r') {
          state_ = State::CarriageReturn;
        } else if (c == '"') {
          return fail("a quote inside an unquoted field (quote the whole field and double the quote)");
        } else {
          row_has_content_ = true;
          if (!push_char(c)) return false;
          state_ = State::Unquoted;
        }
        break;
      case State::Quoted:
        if (c == '"') {
          state_ = State::QuoteInQuoted;
        } else {
          if (c == '\n') ++line_;
          if (!push_char(c)) return false;
        }
        break;
      case State::QuoteInQuoted:
        if (c == '"') {
          if (!push_char('"')) return false;
          state_ = State::Quoted;
        } else if (c == ',') {
          if (!end_field()) return false;
          state_ = State::FieldStart;
        } else if (c == '\n') {
          if (!end_row(rows)) return false;
          ++line_;
          state_ = State::FieldStart;
        } else if (c == '\r') {
          state_ = State::CarriageReturn;
        } else {
          return fail("a closing quote followed by a character other than ',' or a line end");
        }
        break;
      case State::CarriageReturn:
        if (c != '\n') return fail("a carriage return not followed by a line feed outside quotes");
        if (!end_row(rows)) return false;
        ++line_;
        state_ = State::FieldStart;
        break;
    }
  }
  return true;
}

bool Parser::finish(std::vector<Row>& rows) {
  if (error_) return false;
  if (!started_ && bom_matched_ > 0) {
    started_ = true;
    const std::string partial(kBom.substr(0, bom_matched_));
    bom_matched_ = 0;
    if (!feed(partial, rows)) return false;
  }
  switch (state_) {
    case State::Quoted:
      return fail("the input ends inside a quoted field");
    case State::CarriageReturn:
      return fail("a carriage return not followed by a line feed outside quotes");
    default:
      return end_row(rows);
  }
}

std::string field(std::string_view value) {
  // A leading U+FEFF is quoted too: written first in a file it would read
  // back as the byte order mark, which the parser drops.
  const bool quote = value.find_first_of(",\"\r\n") != std::string_view::npos || value.starts_with(kBom) ||
                     (!value.empty() && (value.front() == ' ' || value.back() == ' ' || value.front() == '\t' ||
                                         value.back() == '\t'));
  if (!quote) return std::string(value);
  std::string out;
  out.reserve(value.size() + 2);
  out.push_back('"');
  for (const char c : value) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

void append_row(std::string& out, const std::vector<std::string_view>& fields) {
  // A lone empty field written bare is a blank line, which readers skip.
  if (fields.size() == 1 && fields[0].empty()) {
    out += "\"\"\r\n";
    return;
  }
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += field(fields[i]);
  }
  out += "\r\n";
}

}  // namespace wagate::csv
