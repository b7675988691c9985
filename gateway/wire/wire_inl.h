// Template definitions for wire.h. Include wire.h, not this file.
#pragma once

#include <capnp/any.h>
#include <kj/exception.h>

#include <string>

namespace cg::wire {

namespace detail {
// Copies `bytes` into word-aligned storage, checks size and alignment. Errors: malformed.
Result<kj::Array<capnp::word>> aligned_copy(std::span<const std::uint8_t> bytes,
                                            const DecodeLimits& limits);
std::string exception_reason(const kj::Exception& e);
}  // namespace detail

template <typename T>
Message<T> Message<T>::from_canonical(kj::Array<capnp::word> words) {
  Message<T> m;
  m.words_ = std::move(words);
  m.segment_ = std::make_unique<kj::ArrayPtr<const capnp::word>>(m.words_.asPtr());
  capnp::ReaderOptions options;
  // Canonical form has no aliasing, so reads cost at most proportional work; the default
  // budget would make repeated reads of a large item fail far from the boundary.
  options.traversalLimitInWords = ~std::uint64_t{0} >> 4;
  options.nestingLimit = limits::item_nesting_max;
  m.reader_ = std::make_unique<capnp::SegmentArrayMessageReader>(
      kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>>(m.segment_.get(), 1), options);
  return m;
}

template <typename Reader>
std::vector<std::uint8_t> canonical_bytes_of(Reader reader, bool framed) {
  // As capnp::canonicalize (layout.c++): a flat builder over zeroed words as large as the
  // message, the root set in canonical mode; but the words live in the output vector, behind
  // room for a one-segment table.
  const auto internal = capnp::_::PointerHelpers<capnp::FromReader<Reader>>::getInternalReader(reader);
  const std::size_t words = reader.totalSize().wordCount + 1;  // + the root pointer
  const std::size_t table = framed ? sizeof(capnp::word) : 0;
  std::vector<std::uint8_t> out(table + words * sizeof(capnp::word), 0);
  kj::ArrayPtr<capnp::word> space(reinterpret_cast<capnp::word*>(out.data() + table), words);
  capnp::FlatMessageBuilder builder(space);
  capnp::_::PointerHelpers<capnp::AnyPointer>::getInternalBuilder(
      builder.initRoot<capnp::AnyPointer>())
      .setStruct(internal, /*canonical=*/true);
  const std::size_t used = builder.getSegmentsForOutput()[0].size();
  out.resize(table + used * sizeof(capnp::word));
  if (framed) {  // segment count - 1 = 0, then the segment's size in words (little-endian)
    for (int i = 0; i < 4; ++i) out[4 + i] = static_cast<std::uint8_t>(used >> (8 * i));
  }
  return out;
}

template <typename T>
Result<Message<T>> decode_message(std::span<const std::uint8_t> bytes, const DecodeLimits& limits) {
  CG_ASSIGN_OR_RETURN(auto words, detail::aligned_copy(bytes, limits));
  try {
    capnp::ReaderOptions options;
    options.traversalLimitInWords = limits.traversal_words_max;
    options.nestingLimit = limits.nesting_max;
    capnp::FlatArrayMessageReader reader(words.asPtr(), options);
    if (reader.getEnd() != words.end()) {
      return malformed("message: trailing bytes after the last segment");
    }
    // canonicalize() reads every reachable word once, so pointer errors surface here.
    return Message<T>::from_canonical(capnp::canonicalize(reader.getRoot<T>()));
  } catch (const kj::Exception& e) {
    return malformed("message: " + detail::exception_reason(e));
  }
}

template <typename T, typename Validate>
Result<Message<T>> decode_message(std::span<const std::uint8_t> bytes, const DecodeLimits& limits,
                                  Validate&& validate) {
  CG_ASSIGN_OR_RETURN(auto message, decode_message<T>(bytes, limits));
  try {
    Status s = validate(message.root());
    if (!s.ok()) return s;
  } catch (const kj::Exception& e) {
    return malformed("message: " + detail::exception_reason(e));
  }
  return message;
}

template <typename T>
Result<Message<T>> decode_canonical(std::span<const std::uint8_t> bytes,
                                    const DecodeLimits& limits) {
  CG_ASSIGN_OR_RETURN(auto words, detail::aligned_copy(bytes, limits));
  try {
    kj::ArrayPtr<const capnp::word> segment = words.asPtr();
    capnp::ReaderOptions options;
    options.traversalLimitInWords = limits.traversal_words_max;
    options.nestingLimit = limits.nesting_max;
    capnp::SegmentArrayMessageReader reader(kj::arrayPtr(&segment, 1), options);
    if (!reader.isCanonical()) return malformed("message: not in canonical form");
  } catch (const kj::Exception& e) {
    return malformed("message: " + detail::exception_reason(e));
  }
  return Message<T>::from_canonical(std::move(words));
}

template <typename T, typename Validate>
Result<Message<T>> decode_canonical(std::span<const std::uint8_t> bytes, const DecodeLimits& limits,
                                    Validate&& validate) {
  CG_ASSIGN_OR_RETURN(auto message, decode_canonical<T>(bytes, limits));
  try {
    Status s = validate(message.root());
    if (!s.ok()) return s;
  } catch (const kj::Exception& e) {
    return malformed("message: " + detail::exception_reason(e));
  }
  return message;
}

template <typename T>
std::vector<std::uint8_t> to_flat_bytes(const Message<T>& message) {
  capnp::MallocMessageBuilder builder;
  builder.setRoot(message.root());
  return to_flat_bytes(builder);
}

}  // namespace cg::wire
