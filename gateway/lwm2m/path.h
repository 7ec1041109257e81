#pragma once
// LwM2M paths (TS Core 7.2 "Object Model" / TS Transport 6.4.1 "URI path"): /, /O, /O/I, /O/I/R,
// /O/I/R/RI, each id 0..65535 (65535 is reserved by the spec and refused here).
#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "gateway/util/result.h"

namespace lwgate::lwm2m {

class Path {
 public:
  static constexpr std::size_t kMaxDepth = 4;
  static constexpr std::uint16_t kMaxId = 65534;

  Path() = default;  // the root "/"
  // Strict parse: leading '/', decimal ids without sign or leading zeros ("0" itself is fine),
  // no empty segment, no trailing '/', at most 4 ids. kBadRequest with a message naming the
  // segment otherwise.
  static Result<Path> parse(std::string_view text);
  static Path object(std::uint16_t o) { return Path({o}, 1); }
  static Path instance(std::uint16_t o, std::uint16_t i) { return Path({o, i}, 2); }
  static Path resource(std::uint16_t o, std::uint16_t i, std::uint16_t r) {
    return Path({o, i, r}, 3);
  }
  static Path resourceInstance(std::uint16_t o, std::uint16_t i, std::uint16_t r,
                               std::uint16_t ri) {
    return Path({o, i, r, ri}, 4);
  }

  std::size_t depth() const { return depth_; }  // 0 root, 1 object ... 4 resource instance
  bool isRoot() const { return depth_ == 0; }
  bool isObject() const { return depth_ == 1; }
  bool isInstance() const { return depth_ == 2; }
  bool isResource() const { return depth_ == 3; }
  bool isResourceInstance() const { return depth_ == 4; }
  // id(0) is the object id, id(1) the instance, ...; requires k < depth().
  std::uint16_t id(std::size_t k) const { return ids_[k]; }
  std::uint16_t objectId() const { return ids_[0]; }
  std::uint16_t instanceId() const { return ids_[1]; }
  std::uint16_t resourceId() const { return ids_[2]; }
  std::uint16_t resourceInstanceId() const { return ids_[3]; }

  // One level deeper; requires depth() < kMaxDepth.
  Path child(std::uint16_t id) const;
  // One level up; the root's parent is the root.
  Path parent() const;
  // True when `other` is this path or lies below it ("/3/0" contains "/3/0/1").
  bool contains(const Path& other) const;

  std::string toString() const;  // "/3/0/1"; the root is "/"

  auto operator<=>(const Path& o) const {
    for (std::size_t k = 0; k < depth_ && k < o.depth_; ++k) {
      if (auto c = ids_[k] <=> o.ids_[k]; c != 0) return c;
    }
    return depth_ <=> o.depth_;
  }
  bool operator==(const Path& o) const { return (*this <=> o) == 0; }

 private:
  Path(std::array<std::uint16_t, kMaxDepth> ids, std::size_t depth) : ids_(ids), depth_(depth) {}
  std::array<std::uint16_t, kMaxDepth> ids_{};
  std::size_t depth_ = 0;
};

}  // namespace lwgate::lwm2m
