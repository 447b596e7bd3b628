// csv.hpp — RFC 4180 CSV: an incremental, bounded parser fed in chunks, and a writer that quotes what must be.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wagate::csv {

using Row = std::vector<std::string>;

// What one parser accepts; past either bound it stops with an error rather
// than grow, so a hostile input costs at most max_field_bytes * max_fields.
struct Limits {
  size_t max_field_bytes = 4096;
  size_t max_fields = 64;
};

// Where the input broke the format. row: the 1-based record (the header is
// row 1; a quoted newline does not start a new row); column: the 1-based
// field; line: the 1-based physical line, for an editor.
struct Error {
  size_t row = 0;
  size_t column = 0;
  size_t line = 0;
  std::string message;
  [[nodiscard]] std::string text() const;  // "row 3, column 2 (line 4): ..."
};

// RFC 4180, tolerant where the RFC's writers differ: records end in CRLF or
// LF (a CR elsewhere outside quotes is an error), the last record may lack
// its line end, a UTF-8 byte order mark at the very start is skipped, and a
// line with no characters at all is skipped rather than read as one empty
// field. Fields are UTF-8; quoted fields may hold ',' CR, LF and "" for '"'.
// Every row must have as many fields as the first. Chunks may split the input
// anywhere, a multi-byte character or a "" included: the rows are the same.
class Parser {
 public:
  explicit Parser(Limits limits = {});

  // Appends each row that the chunk completes to rows. Returns false at the
  // first error (error() says which); later calls then do nothing.
  [[nodiscard]] bool feed(std::string_view chunk, std::vector<Row>& rows);
  // The end of the input: completes a last row without a line end, or
  // reports an unterminated quote.
  [[nodiscard]] bool finish(std::vector<Row>& rows);

  [[nodiscard]] const std::optional<Error>& error() const { return error_; }
  // Rows completed so far, the header included.
  [[nodiscard]] size_t rows_read() const { return row_number_ - 1; }

 private:
  enum class State { FieldStart, Unquoted, Quoted, QuoteInQuoted, CarriageReturn };
  bool fail(std::string message);
  bool push_char(char c);
  bool end_field();
  bool end_row(std::vector<Row>& rows);

  Limits limits_;
  State state_ = State::FieldStart;
  size_t bom_matched_ = 0;  // bytes of a byte order mark seen at the start
  bool started_ = false;    // past where a byte order mark could be
  bool row_has_content_ = false;
  Row row_;
  std::string field_;
  size_t width_ = 0;  // fields of the first row; 0 until it is read
  size_t row_number_ = 1;
  size_t line_ = 1;
  std::optional<Error> error_;
};

// One field as RFC 4180 writes it: quoted when it holds ',', '"', CR or LF
// or begins or ends with a blank (which some readers trim), '"' doubled.
[[nodiscard]] std::string field(std::string_view value);
// The fields joined with ',', ending in CRLF, appended to out (a lone empty
// field as "", since a blank line is skipped).
void append_row(std::string& out, const std::vector<std::string_view>& fields);

}  // namespace wagate::csv
