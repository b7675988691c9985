#include "gateway/tomlread/tomlread.h"

#include <algorithm>
#include <sstream>

#include "gateway/wire/wire.h"

namespace cg::tomlread {

void Section::fail_at(const toml::source_region& where, const std::string& what) const {
  std::ostringstream out;
  out << file_ << ":" << where.begin.line << ":" << where.begin.column << ": " << what;
  throw Fail{malformed(out.str())};
}

void Section::fail(const std::string& key, const std::string& what) const {
  const toml::node* n = table_.get(key);
  fail_at(n ? n->source() : table_.source(), qualified(key) + ": " + what);
}

const toml::node* Section::node(const std::string& key) {
  used_.insert(key);
  return table_.get(key);
}

std::optional<std::string> Section::string(const std::string& key, bool required) {
  const toml::node* n = node(key);
  if (!n) {
    if (required) fail_at(table_.source(), qualified(key) + ": missing");
    return std::nullopt;
  }
  auto v = n->value<std::string>();
  if (!n->is_string() || !v) fail(key, "must be a string");
  return *v;
}

std::optional<std::string> Section::name(const std::string& key, bool required) {
  auto v = string(key, required);
  if (v && !wire::is_clean_name(*v))
    fail(key, "must be 1-128 bytes of UTF-8 without control characters");
  return v;
}

std::optional<std::int64_t> Section::integer(const std::string& key, std::int64_t min,
                                             std::int64_t max) {
  const toml::node* n = node(key);
  if (!n) return std::nullopt;
  if (!n->is_integer()) fail(key, "must be an integer");
  const std::int64_t v = *n->value<std::int64_t>();
  if (v < min || v > max)
    fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
  return v;
}

std::optional<bool> Section::boolean(const std::string& key) {
  const toml::node* n = node(key);
  if (!n) return std::nullopt;
  if (!n->is_boolean()) fail(key, "must be true or false");
  return *n->value<bool>();
}

const toml::table* Section::table(const std::string& key) {
  const toml::node* n = node(key);
  if (!n) return nullptr;
  if (!n->is_table()) fail(key, "must be a table ([" + qualified(key) + "])");
  return n->as_table();
}

const toml::array* Section::array_of_tables(const std::string& key) {
  const toml::node* n = node(key);
  if (!n) return nullptr;
  if (!n->is_array_of_tables())
    fail(key, "must be an array of tables ([[" + qualified(key) + "]])");
  return n->as_array();
}

std::vector<std::string> Section::names(const std::string& key, std::size_t max_entries,
                                        bool* present) {
  std::vector<std::string> out;
  const toml::node* n = node(key);
  if (present) *present = n != nullptr;
  if (!n) return out;
  const toml::array* a = n->as_array();
  if (!a) fail(key, "must be an array of strings");
  if (a->empty()) fail(key, "must not be empty (leave the key out instead)");
  if (a->size() > max_entries) fail(key, "more than " + std::to_string(max_entries) + " entries");
  for (const toml::node& e : *a) {
    auto v = e.value<std::string>();
    if (!e.is_string() || !v) fail_at(e.source(), qualified(key) + ": must be strings");
    if (!wire::is_clean_name(*v))
      fail_at(e.source(), qualified(key) + ": '" + *v + "' is not a valid name");
    out.push_back(std::move(*v));
  }
  return out;
}

std::vector<std::string> Section::sorted_names(const std::string& key, std::size_t max_entries,
                                               bool* present) {
  auto v = names(key, max_entries, present);
  std::sort(v.begin(), v.end());
  if (std::adjacent_find(v.begin(), v.end()) != v.end()) fail(key, "duplicate entry");
  return v;
}

void Section::finish() const {
  for (const auto& [key, value] : table_) {
    if (!used_.count(std::string(key.str())))
      fail_at(key.source(), qualified(std::string(key.str())) + ": unknown key");
  }
}

void Section::allow_only(std::initializer_list<std::string_view> allowed) const {
  for (const auto& [key, value] : table_) {
    if (std::find(allowed.begin(), allowed.end(), key.str()) == allowed.end())
      fail_at(key.source(), qualified(std::string(key.str())) + ": unknown key");
  }
}

Status syntax_error(const toml::parse_error& e, const std::string& file) {
  std::ostringstream out;
  out << file << ":" << e.source().begin.line << ":" << e.source().begin.column << ": "
      << e.description();
  return malformed(out.str());
}

}  // namespace cg::tomlread
