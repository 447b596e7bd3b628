// csv_test.cpp — the RFC 4180 parser, fed whole and in pieces, and the writer it reads back.
#include "wagate/csv.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace wagate::csv {
namespace {

struct Parsed {
  std::vector<Row> rows;
  std::optional<Error> error;
};

// The input fed in chunks of `chunk` bytes (0: in one piece), then finished.
Parsed parse(std::string_view input, size_t chunk = 0, Limits limits = {}) {
  Parser parser(limits);
  Parsed out;
  bool ok = true;
  if (chunk == 0) {
    ok = parser.feed(input, out.rows);
  } else {
    for (size_t i = 0; ok && i < input.size(); i += chunk) ok = parser.feed(input.substr(i, chunk), out.rows);
  }
  if (ok) ok = parser.finish(out.rows);
  out.error = parser.error();
  EXPECT_EQ(ok, !out.error.has_value());
  return out;
}

// Every way of splitting the input gives what one piece gives.
Parsed parse_every_way(std::string_view input, Limits limits = {}) {
  const Parsed whole = parse(input, 0, limits);
  for (size_t chunk = 1; chunk <= 7; ++chunk) {
    const Parsed pieces = parse(input, chunk, limits);
    EXPECT_EQ(pieces.rows, whole.rows) << "chunk " << chunk;
    EXPECT_EQ(pieces.error.has_value(), whole.error.has_value()) << "chunk " << chunk;
    if (pieces.error && whole.error) {
      EXPECT_EQ(pieces.error->text(), whole.error->text()) << "chunk " << chunk;
    }
  }
  return whole;
}

TEST(Csv, PlainRowsWithLfOrCrlfAndWithOrWithoutTheLastLineEnd) {
  const std::vector<Row> expected = {{"phone", "name"}, {"+351910000001", "Ana"}};
  EXPECT_EQ(parse_every_way("phone,name\n+351910000001,Ana\n").rows, expected);
  EXPECT_EQ(parse_every_way("phone,name\r\n+351910000001,Ana\r\n").rows, expected);
  EXPECT_EQ(parse_every_way("phone,name\r\n+351910000001,Ana").rows, expected);
  EXPECT_EQ(parse_every_way("phone,name\n+351910000001,Ana").rows, expected);
}

TEST(Csv, QuotedFieldsHoldCommasDoubledQuotesAndNewlines) {
  const Parsed parsed = parse_every_way("a,b,c\r\n\"x, y\",\"say \"\"hi\"\"\",\"two\r\nlines\"\r\n\"\",,\"\"\"\"\n");
  ASSERT_FALSE(parsed.error) << parsed.error->text();
  const std::vector<Row> expected = {{"a", "b", "c"}, {"x, y", "say \"hi\"", "two\r\nlines"}, {"", "", "\""}};
  EXPECT_EQ(parsed.rows, expected);
}

TEST(Csv, EmptyFieldsAndEmptyInput) {
  EXPECT_EQ(parse_every_way("a,b\n,\n").rows, (std::vector<Row>{{"a", "b"}, {"", ""}}));
  EXPECT_TRUE(parse_every_way("").rows.empty());
  EXPECT_FALSE(parse_every_way("").error);
}

TEST(Csv, BlankLinesAreSkipped) {
  EXPECT_EQ(parse_every_way("a\n\n1\r\n\r\n2\n\n").rows, (std::vector<Row>{{"a"}, {"1"}, {"2"}}));
}

TEST(Csv, ByteOrderMarkAtTheStartIsSkippedAndElsewhereKept) {
  EXPECT_EQ(parse_every_way("\xEF\xBB\xBFphone\n1\n").rows, (std::vector<Row>{{"phone"}, {"1"}}));
  // A lone mark is an empty input.
  EXPECT_TRUE(parse_every_way("\xEF\xBB\xBF").rows.empty());
  // Not the start: data.
  EXPECT_EQ(parse_every_way("a\n\xEF\xBB\xBF\n").rows, (std::vector<Row>{{"a"}, {"\xEF\xBB\xBF"}}));
  // A first character that merely begins like the mark is data.
  EXPECT_EQ(parse_every_way("\xEF\xBC\x8C\n").rows, (std::vector<Row>{{"\xEF\xBC\x8C"}}));
}

TEST(Csv, MultiByteCharactersSplitAcrossChunksStayWhole) {
  const Parsed parsed = parse_every_way("name\n\"Jo\xC3\xA3o, \xF0\x9F\x98\x80\"\n");
  ASSERT_FALSE(parsed.error);
  EXPECT_EQ(parsed.rows[1][0], "Jo\xC3\xA3o, \xF0\x9F\x98\x80");
}

TEST(Csv, RaggedRowIsAnErrorNamingItsRow) {
  const Parsed parsed = parse_every_way("phone,name\n1,a\n2\n3,c\n");
  ASSERT_TRUE(parsed.error);
  EXPECT_EQ(parsed.error->row, 3U);
  EXPECT_EQ(parsed.error->text(), "row 3, column 1 (line 3): row has 1 fields, the first row has 2");
  // The rows before it were read.
  EXPECT_EQ(parsed.rows.size(), 2U);
}

TEST(Csv, RowNumbersCountRecordsNotLines) {
  const Parsed parsed = parse_every_way("a,b\n\"1\n2\",x\n3\n");
  ASSERT_TRUE(parsed.error);
  EXPECT_EQ(parsed.error->row, 3U);
  EXPECT_EQ(parsed.error->line, 4U);
}

TEST(Csv, OversizedFieldIsAnError) {
  const Parsed parsed = parse_every_way("a\n12345\n", Limits{4, 8});
  ASSERT_TRUE(parsed.error);
  EXPECT_EQ(parsed.error->text(), "row 2, column 1 (line 2): field is longer than 4 bytes");
  EXPECT_FALSE(parse_every_way("a\n1234\n", Limits{4, 8}).error);
  // Quoted or not, the bound is the same.
  EXPECT_TRUE(parse_every_way("a\n\"12\"\"45\"\n", Limits{4, 8}).error);
}

TEST(Csv, TooManyFieldsIsAnError) {
  const Parsed parsed = parse_every_way("a,b,c\n", Limits{16, 2});
  ASSERT_TRUE(parsed.error);
  EXPECT_EQ(parsed.error->text(), "row 1, column 3 (line 1): row has more than 2 fields");
}

TEST(Csv, MalformedQuotingIsAnErrorWithItsPlace) {
  Parsed parsed = parse_every_way("a,b\n1,x\"y\n");
  ASSERT_TRUE(parsed.error);
  EXPECT_EQ(parsed.error->row, 2U);
  EXPECT_EQ(parsed.error->column, 2U);
  EXPECT_NE(parsed.error->message.find("quote inside an unquoted field"), std::string::npos);

  parsed = parse_every_way("a\n\"x\"y\n");
  ASSERT_TRUE(parsed.error);
  EXPECT_NE(parsed.error->message.find("closing quote"), std::string::npos);

  parsed = parse_every_way("a\n\"never closed\n");
  ASSERT_TRUE(parsed.error);
  EXPECT_EQ(parsed.error->message, "the input ends inside a quoted field");

  parsed = parse_every_way("a\rb\n");
  ASSERT_TRUE(parsed.error);
  EXPECT_NE(parsed.error->message.find("carriage return"), std::string::npos);
  EXPECT_TRUE(parse_every_way("a\r").error);
}

TEST(Csv, InvalidUtf8IsAnError) {
  const Parsed parsed = parse_every_way("a,b\n1,\xC3\x28\n");
  ASSERT_TRUE(parsed.error);
  EXPECT_EQ(parsed.error->text(), "row 2, column 2 (line 2): field is not valid UTF-8");
}

TEST(Csv, AfterAnErrorFeedingDoesNothing) {
  Parser parser;
  std::vector<Row> rows;
  EXPECT_FALSE(parser.feed("a\n\"x\"y\n", rows));
  EXPECT_FALSE(parser.feed("b\n", rows));
  EXPECT_FALSE(parser.finish(rows));
  EXPECT_EQ(rows.size(), 1U);
}

TEST(Csv, WriterQuotesWhatMustBeAndReadsBack) {
  EXPECT_EQ(field("plain"), "plain");
  EXPECT_EQ(field("+351910000001"), "+351910000001");
  EXPECT_EQ(field("a,b"), "\"a,b\"");
  EXPECT_EQ(field("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(field("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(field(" padded"), "\" padded\"");
  EXPECT_EQ(field(""), "");
  std::string lone;
  append_row(lone, {""});
  EXPECT_EQ(lone, "\"\"\r\n");  // bare, it would be a blank line, which is skipped

  const std::vector<std::string> values = {"a,b", "\"", "x\r\ny", " t ", "", "Jo\xC3\xA3o"};
  std::string out;
  append_row(out, {"c1", "c2", "c3", "c4", "c5", "c6"});
  append_row(out, {values[0], values[1], values[2], values[3], values[4], values[5]});
  const Parsed parsed = parse_every_way(out);
  ASSERT_FALSE(parsed.error);
  ASSERT_EQ(parsed.rows.size(), 2U);
  EXPECT_EQ(parsed.rows[1], values);
}

// Found by the fuzzer: a first field that starts with U+FEFF must not be
// written bare, or it reads back as a byte order mark and is lost.
TEST(CsvWriter, AFieldStartingWithTheByteOrderMarkSurvivesARoundTrip) {
  const std::string bom = "\xEF\xBB\xBF";
  std::string written;
  append_row(written, {std::string_view(bom), std::string_view("x")});
  EXPECT_EQ(written, "\"" + bom + "\",x\r\n");
  Parser parser(Limits{});
  std::vector<Row> rows;
  ASSERT_TRUE(parser.feed(bom + written, rows));  // a real BOM first, then the row
  ASSERT_TRUE(parser.finish(rows));
  ASSERT_EQ(rows.size(), 1U);
  EXPECT_EQ(rows[0], (Row{bom, "x"}));
}

}  // namespace
}  // namespace wagate::csv
