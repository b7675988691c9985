// The one strict TOML reader of cellgate: node configs (gateway/config), policies
// (gateway/policy) and trust root specs (cellgate trust create) read their tables through
// Section, so every one of them refuses the same way.
//
// Strict: a key of the wrong type, a value out of range, a duplicate list entry or a key
// nobody reads (Section::finish) is an error naming file:line:col and the dotted key. Nothing
// falls back to a default because something present could not be read; a default applies only
// to a key that is absent.
//
// Errors are thrown as Fail from inside a read and turned into a Status at the parser's
// boundary by `read` (STYLE.md: exceptions never cross a module's interface).
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/common/status.h"

namespace cg::tomlread {

// The first mistake found, as malformed("file:line:col: key: what").
struct Fail {
  Status status;
};

class Section final {
 public:
  // `name` is the table's dotted name in messages ("" for the top level); `file` must outlive
  // the section.
  Section(const toml::table& table, std::string name, const std::string& file)
      : table_(table), name_(std::move(name)), file_(file) {}

  [[noreturn]] void fail_at(const toml::source_region& where, const std::string& what) const;
  [[noreturn]] void fail(const std::string& key, const std::string& what) const;
  std::string qualified(const std::string& key) const {
    return name_.empty() ? key : name_ + "." + key;
  }

  // The node for `key` (marking it read), or null when absent.
  const toml::node* node(const std::string& key);
  bool has(const std::string& key) const { return table_.contains(key); }
  std::uint32_t line() const { return table_.source().begin.line; }

  // Absent: nullopt, or an error when `required`. Present but not a string: an error.
  std::optional<std::string> string(const std::string& key, bool required);
  // A string that is also 1-128 bytes of UTF-8 without control characters (wire::is_clean_name).
  std::optional<std::string> name(const std::string& key, bool required);
  // Absent: nullopt. Present: an integer within [min, max], or an error.
  std::optional<std::int64_t> integer(const std::string& key, std::int64_t min, std::int64_t max);
  std::optional<bool> boolean(const std::string& key);
  const toml::table* table(const std::string& key);
  const toml::array* array_of_tables(const std::string& key);
  // A non-empty list of at most `max_entries` clean names; `present` tells whether the key was
  // there at all.
  std::vector<std::string> names(const std::string& key, std::size_t max_entries,
                                 bool* present = nullptr);
  // The same, sorted, refusing a duplicate entry.
  std::vector<std::string> sorted_names(const std::string& key, std::size_t max_entries,
                                        bool* present = nullptr);

  // Every key not read by now is unknown: an error naming the first.
  void finish() const;
  // For tables whose keys are known before reading (specs written by hand, where "unknown key"
  // is the likelier mistake than a missing one): any key outside `allowed` is an error now.
  void allow_only(std::initializer_list<std::string_view> allowed) const;

  const std::string& file() const { return file_; }
  const toml::table& raw() const { return table_; }

 private:
  const toml::table& table_;
  std::string name_;
  const std::string& file_;
  std::set<std::string> used_;
};

// Parses `text` (named `file` in messages) and runs `read` over its top-level table. A TOML
// syntax error or a Fail thrown by a Section becomes the returned status.
template <typename T>
Result<T> read(std::string_view text, const std::string& file,
               const std::function<Result<T>(const toml::table&)>& read_table);

// A TOML syntax error as malformed("file:line:col: description").
Status syntax_error(const toml::parse_error& e, const std::string& file);

template <typename T>
Result<T> read(std::string_view text, const std::string& file,
               const std::function<Result<T>(const toml::table&)>& read_table) {
  try {
    const toml::table root = toml::parse(text, file);
    return read_table(root);
  } catch (const toml::parse_error& e) {
    return syntax_error(e, file);
  } catch (const Fail& f) {
    return f.status;
  }
}

}  // namespace cg::tomlread
