// ByteReader / ByteWriter: bounds-checked access to untrusted byte layouts (STYLE.md habit 8).
//
// ByteReader reads little-endian integers and byte runs from a std::span. A read past the end
// does not touch memory: it returns false / an empty optional and latches the reader into a
// failed state, so a parser can do a run of reads and check `ok()` once. ByteWriter appends to
// a caller-owned std::vector. Neither is thread-safe; neither owns the bytes it reads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

namespace cg {

class ByteReader final {
 public:
  explicit ByteReader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}

  bool ok() const { return ok_; }
  std::size_t remaining() const { return ok_ ? bytes_.size() - pos_ : 0; }
  std::size_t position() const { return pos_; }
  bool at_end() const { return ok_ && pos_ == bytes_.size(); }

  std::optional<std::uint8_t> u8() { return read_le<std::uint8_t>(); }
  std::optional<std::uint16_t> u16() { return read_le<std::uint16_t>(); }
  std::optional<std::uint32_t> u32() { return read_le<std::uint32_t>(); }
  std::optional<std::uint64_t> u64() { return read_le<std::uint64_t>(); }

  // The next n bytes as a view into the underlying buffer, or nullopt if fewer remain.
  std::optional<std::span<const std::uint8_t>> bytes(std::size_t n) {
    if (!ok_ || n > bytes_.size() - pos_) return fail<std::span<const std::uint8_t>>();
    auto out = bytes_.subspan(pos_, n);
    pos_ += n;
    return out;
  }

  // Everything not yet read.
  std::span<const std::uint8_t> rest() {
    if (!ok_) return {};
    auto out = bytes_.subspan(pos_);
    pos_ = bytes_.size();
    return out;
  }

  bool skip(std::size_t n) { return bytes(n).has_value(); }

 private:
  template <typename T>
  std::optional<T> fail() {
    ok_ = false;
    return std::nullopt;
  }

  template <typename T>
  std::optional<T> read_le() {
    if (!ok_ || sizeof(T) > bytes_.size() - pos_) return fail<T>();
    T value = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) {
      value = static_cast<T>(value | (static_cast<T>(bytes_[pos_ + i]) << (8 * i)));
    }
    pos_ += sizeof(T);
    return value;
  }

  std::span<const std::uint8_t> bytes_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

class ByteWriter final {
 public:
  // Keeps a reference to `out`, which must outlive the writer.
  explicit ByteWriter(std::vector<std::uint8_t>& out) : out_(out) {}

  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) { write_le(v); }
  void u32(std::uint32_t v) { write_le(v); }
  void u64(std::uint64_t v) { write_le(v); }
  void bytes(std::span<const std::uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }

 private:
  template <typename T>
  void write_le(T v) {
    for (std::size_t i = 0; i < sizeof(T); ++i)
      out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }

  std::vector<std::uint8_t>& out_;
};

}  // namespace cg
