#pragma once
// CoRE Link Format (RFC 6690) as LwM2M clients send it in Register/Update payloads, and the
// LwM2M reading of that list: object/instance links, object versions, the alternate path.
// Pure code: no I/O, no allocation beyond the result, every input length bounded by the caller.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/util/result.h"

namespace lwgate::lwm2m {

// One link-value: <target>;param;param=value;param="quoted value"
struct Link {
  std::string target;  // between < and >, e.g. "/3/0"
  // Parameters in order; value is empty optional for a bare parameter (";obs").
  // Quoted values are unquoted (backslash escapes resolved).
  std::vector<std::pair<std::string, std::optional<std::string>>> params;

  // First value of a parameter, if present with a value.
  std::optional<std::string_view> param(std::string_view name) const;
};

// Parses a link-format document (RFC 6690 section 2, links separated by ','). Whitespace around
// separators (spaces, tabs, CR, LF) is tolerated because real clients send it. At most maxLinks
// links; more is kTooLarge. Anything else malformed is kBadRequest with a message naming the
// offset and what was expected.
Result<std::vector<Link>> parseLinkFormat(std::string_view text, std::size_t maxLinks);

// An object or object-instance link from a registration payload, relative to the alternate path.
struct ObjectLink {
  std::uint16_t objectId = 0;
  std::optional<std::uint16_t> instanceId;
  std::optional<std::string> version;  // ver="1.1" on an object link (LwM2M 1.0: only on objects)

  bool operator==(const ObjectLink&) const = default;
};

// What a Register/Update payload says about the client (LwM2M 1.1 TS 6.2.1, 1.2 TS 6.2.1.1).
struct ObjectList {
  // Alternate path from the link with rt="oma.lwm2m"; "/" when absent. Never ends with '/'
  // unless it is "/" itself.
  std::string altPath = "/";
  // Content formats from ct= on the rt="oma.lwm2m" link (single number or a quoted
  // space-separated list, 1.1+), in the order given.
  std::vector<std::uint16_t> contentFormats;
  std::vector<ObjectLink> links;

  bool operator==(const ObjectList&) const = default;
};

struct ObjectListLimits {
  std::size_t maxLinks = 1024;  // object + instance links in one payload
};

// Parses and validates a registration payload:
//  - valid link-format (above);
//  - at most one link with rt="oma.lwm2m" (its target is the alternate path: "/" or a path of
//    segments made of [A-Za-z0-9_.~-]), ct= on it is a number or quoted list of numbers 0..65535;
//  - every other target is <alt>/O or <alt>/O/I with O, I decimal 0..65535 (no leading '+',
//    no empty segments); other links (e.g. a bare </> or links outside alt path) are kBadRequest;
//  - the Security object (/0 or /0/x) is kBadRequest (LwM2M TS: "MUST NOT be part of this list");
//  - duplicate object/instance links are kBadRequest;
//  - ver= must look like "X.Y" (digits).
// An empty payload gives an empty list (the caller decides whether that is allowed).
Result<ObjectList> parseObjectList(std::string_view payload, const ObjectListLimits& limits);

// Canonical link-format for an ObjectList: the rt="oma.lwm2m" link first when altPath != "/" or
// contentFormats is non-empty, then the links in order, e.g.
//   </lwm2m>;rt="oma.lwm2m";ct="60 110",</lwm2m/1/0>,</lwm2m/3>;ver=1.1,</lwm2m/3/0>
// parseObjectList(formatObjectList(x)) == x for every valid x.
std::string formatObjectList(const ObjectList& list);

}  // namespace lwgate::lwm2m
