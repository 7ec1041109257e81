#include "gateway/lwm2m/link_format.h"

#include <charconv>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <system_error>
#include <utility>

#include "gateway/lwm2m/diagnostic.h"

namespace lwgate::lwm2m {
namespace {

// Error messages go back to the device as a CoAP diagnostic payload (RFC 7252 5.5.2), which must
// be UTF-8 and should be short (under 120 characters): echo at most this many characters of the
// peer's input, fewer when one message echoes two things.
constexpr std::size_t kShortEcho = 16;
constexpr std::size_t kMidEcho = 24;

constexpr std::string_view kHexDigits = "0123456789ABCDEF";

std::string quoted(std::string_view in, std::size_t budget = kMaxEcho) {
  return '"' + escapeForMessage(in, budget) + '"';
}
std::string angled(std::string_view target, std::size_t budget = kMaxEcho) {
  return '<' + escapeForMessage(target, budget) + '>';
}

std::string describeChar(char ch) {
  const auto c = static_cast<unsigned char>(ch);
  if (c > 0x20 && c < 0x7f) return std::string{'\'', ch, '\''};
  if (c == ' ') return "a space";
  return std::string("byte 0x") + kHexDigits[c >> 4] + kHexDigits[c & 0xf];
}

bool isWhitespace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
bool isDigit(char c) {
  return c >= '0' && c <= '9';
}
bool isAlpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// RFC 3986 URI-Reference characters, loosely: printable ASCII except the delimiters that would
// make the link ambiguous ('<' '>' '"'). The LwM2M layer validates targets much more strictly.
bool isTargetChar(char c) {
  return c > 0x20 && c < 0x7f && c != '<' && c != '>' && c != '"';
}

// RFC 6690 section 2: parmname is RFC 5987 attr-char.
bool isParmnameChar(char c) {
  return isAlpha(c) || isDigit(c) ||
         std::string_view("!#$&+-.^_`|~").find(c) != std::string_view::npos;
}

// RFC 6690 section 2: ptokenchar.
bool isPtokenChar(char c) {
  return isAlpha(c) || isDigit(c) ||
         std::string_view("!#$%&'()*+-./:<=>?@[]^_`{|}~").find(c) != std::string_view::npos;
}

Error syntaxError(std::string_view text, std::size_t pos, std::string_view expected) {
  std::string msg = "link-format: expected ";
  msg += expected;
  msg += " at offset " + std::to_string(pos);
  if (pos >= text.size()) {
    msg += " (end of input)";
  } else {
    msg += ", found " + describeChar(text[pos]);
  }
  return makeError(ErrorCode::kBadRequest, std::move(msg));
}

void skipWhitespace(std::string_view text, std::size_t& pos) {
  while (pos < text.size() && isWhitespace(text[pos])) ++pos;
}

// Strict decimal 0..65535: digits only, no leading zeros (so "/03" cannot alias "/3"). from_chars
// takes no sign and no whitespace for unsigned types.
std::optional<std::uint16_t> parseU16(std::string_view s) {
  if (s.size() > 1 && s[0] == '0') return std::nullopt;
  std::uint16_t value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

// "X.Y" with one or more digits on each side, as the LwM2M TS writes object versions.
bool isVersionLike(std::string_view v) {
  const auto dot = v.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == v.size()) return false;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i != dot && !isDigit(v[i])) return false;
  }
  return true;
}

// rt= holds one or more space-separated resource types (RFC 6690 section 3.1).
bool hasResourceType(const Link& link, std::string_view type) {
  for (const auto& [name, value] : link.params) {
    if (name != "rt" || !value) continue;
    std::string_view rest = *value;
    while (!rest.empty()) {
      const auto sp = rest.find(' ');
      if (rest.substr(0, sp) == type) return true;
      if (sp == std::string_view::npos) break;
      rest.remove_prefix(sp + 1);
    }
  }
  return false;
}

const std::optional<std::string>* findParam(const Link& link, std::string_view name) {
  for (const auto& [n, value] : link.params) {
    if (n == name) return &value;
  }
  return nullptr;
}

// LwM2M 1.1 TS 6.2.1 (1.0 TS 5.3.1): the alternate path is "/" or a path of URI segments. We keep
// to unreserved characters so that it can be joined with object paths without escaping, and
// refuse dot segments, which URI normalisation would remove.
bool isValidAltPath(std::string_view path) {
  if (path == "/") return true;
  if (path.empty() || path[0] != '/') return false;
  std::string_view rest = path.substr(1);
  while (true) {
    const auto slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    if (segment.empty() || segment == "." || segment == "..") return false;
    for (char c : segment) {
      if (!isAlpha(c) && !isDigit(c) &&
          std::string_view("_.~-").find(c) == std::string_view::npos) {
        return false;
      }
    }
    if (slash == std::string_view::npos) return true;
    rest.remove_prefix(slash + 1);
  }
}

Result<std::vector<std::uint16_t>> parseContentFormats(const std::optional<std::string>& value) {
  if (!value) {
    return makeError(ErrorCode::kBadRequest,
                     "ct without a value on the rt=\"oma.lwm2m\" link: expected e.g. ct=11543");
  }
  std::vector<std::uint16_t> formats;
  std::string_view rest = *value;
  // LwM2M 1.1 TS 6.2.1: a single value, or a quoted space-separated list.
  while (true) {
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    if (rest.empty()) break;
    const auto sp = rest.find(' ');
    const auto number = parseU16(rest.substr(0, sp));
    if (!number) {
      return makeError(ErrorCode::kBadRequest,
                       "invalid ct=" + quoted(*value) +
                           ": expected numbers 0..65535, e.g. ct=11543 or ct=\"60 110\"");
    }
    formats.push_back(*number);
    if (sp == std::string_view::npos) break;
    rest.remove_prefix(sp);
  }
  if (formats.empty()) {
    return makeError(ErrorCode::kBadRequest,
                     "empty ct=\"\": expected numbers 0..65535, e.g. ct=11543 or ct=\"60 110\"");
  }
  return formats;
}

// Object or instance link relative to the alternate path: <alt>/O or <alt>/O/I.
Result<ObjectLink> parseObjectTarget(std::string_view target, std::string_view altPath) {
  std::string_view rest = target;
  const std::string prefix = altPath == "/" ? std::string() : std::string(altPath);
  if (!prefix.empty()) {
    if (!rest.starts_with(prefix) || (rest.size() > prefix.size() && rest[prefix.size()] != '/')) {
      return makeError(ErrorCode::kBadRequest, "link " + angled(target) +
                                                   " is outside the alternate path " +
                                                   quoted(altPath, kShortEcho));
    }
    rest.remove_prefix(prefix.size());
  }
  const auto shapeError = [&] {
    std::string msg = "invalid object link " + angled(target) + ": expected ";
    if (prefix.empty()) {
      msg += "</O> or </O/I>, O and I in 0..65535";
    } else {
      msg += angled(prefix, kShortEcho) + " then /O or /O/I";
    }
    return makeError(ErrorCode::kBadRequest, std::move(msg));
  };
  if (rest.empty() || rest[0] != '/') return shapeError();
  rest.remove_prefix(1);
  ObjectLink link;
  const auto slash = rest.find('/');
  const auto object = parseU16(rest.substr(0, slash));
  if (!object) return shapeError();
  link.objectId = *object;
  if (slash != std::string_view::npos) {
    const auto instance = parseU16(rest.substr(slash + 1));
    if (!instance) return shapeError();  // also catches a third segment: "0/1" is no number
    link.instanceId = *instance;
  }
  return link;
}

// Quoted-string with backslash escapes (RFC 2616 2.2, as RFC 6690 uses it).
std::string quoteIfNeeded(std::string_view value) {
  bool token = !value.empty();
  for (char c : value) token = token && isPtokenChar(c);
  if (token) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace

std::optional<std::string_view> Link::param(std::string_view name) const {
  // A bare occurrence (";ct") carries no value; keep looking for one that does.
  for (const auto& [n, value] : params) {
    if (n == name && value) return std::string_view(*value);
  }
  return std::nullopt;
}

Result<std::vector<Link>> parseLinkFormat(std::string_view text, std::size_t maxLinks) {
  // A NUL cannot appear in any production of RFC 6690; reject it up front so that no later
  // consumer that uses C strings ever sees a truncated value.
  if (const auto nul = text.find('\0'); nul != std::string_view::npos) {
    return makeError(ErrorCode::kBadRequest,
                     "link-format: NUL byte at offset " + std::to_string(nul));
  }
  std::vector<Link> links;
  std::size_t pos = 0;
  skipWhitespace(text, pos);
  if (pos == text.size()) return links;  // RFC 6690: the link-value-list may be empty

  while (true) {
    if (links.size() == maxLinks) {
      return makeError(ErrorCode::kTooLarge,
                       "link-format: more than " + std::to_string(maxLinks) + " links");
    }
    if (pos >= text.size() || text[pos] != '<') return syntaxError(text, pos, "'<'");
    ++pos;
    const std::size_t targetStart = pos;
    while (pos < text.size() && isTargetChar(text[pos])) ++pos;
    if (pos >= text.size() || text[pos] != '>') return syntaxError(text, pos, "'>'");
    if (pos == targetStart) {
      return makeError(ErrorCode::kBadRequest, "link-format: empty link target <> at offset " +
                                                   std::to_string(targetStart - 1));
    }
    Link link;
    link.target = std::string(text.substr(targetStart, pos - targetStart));
    ++pos;
    skipWhitespace(text, pos);

    while (pos < text.size() && text[pos] == ';') {
      ++pos;
      skipWhitespace(text, pos);
      const std::size_t nameStart = pos;
      while (pos < text.size() && isParmnameChar(text[pos])) ++pos;
      if (pos == nameStart) return syntaxError(text, pos, "a parameter name");
      std::string name(text.substr(nameStart, pos - nameStart));
      std::optional<std::string> value;
      if (pos < text.size() && text[pos] == '=') {
        ++pos;
        if (pos < text.size() && text[pos] == '"') {
          const std::size_t quoteStart = pos;
          ++pos;
          std::string unquoted;
          while (true) {
            if (pos >= text.size()) {
              return makeError(ErrorCode::kBadRequest,
                               "link-format: unterminated quoted string starting at offset " +
                                   std::to_string(quoteStart));
            }
            char c = text[pos];
            if (c == '"') {
              ++pos;
              break;
            }
            if (c == '\\') {
              ++pos;
              if (pos >= text.size()) continue;  // reported as unterminated above
              c = text[pos];
            }
            const auto u = static_cast<unsigned char>(c);
            if ((u < 0x20 && c != '\t') || u == 0x7f) {
              return makeError(ErrorCode::kBadRequest,
                               "link-format: control character " + describeChar(c) +
                                   " in quoted string at offset " + std::to_string(pos));
            }
            unquoted += c;
            ++pos;
          }
          value = std::move(unquoted);
        } else {
          const std::size_t valueStart = pos;
          while (pos < text.size() && isPtokenChar(text[pos])) ++pos;
          if (pos == valueStart) return syntaxError(text, pos, "a parameter value");
          value = std::string(text.substr(valueStart, pos - valueStart));
        }
      }
      link.params.emplace_back(std::move(name), std::move(value));
      skipWhitespace(text, pos);
    }
    links.push_back(std::move(link));

    if (pos == text.size()) return links;
    if (text[pos] != ',') return syntaxError(text, pos, "',' or ';'");
    ++pos;
    skipWhitespace(text, pos);
    // Falls through to expect '<' again: a trailing or doubled ',' is an error.
  }
}

Result<ObjectList> parseObjectList(std::string_view payload, const ObjectListLimits& limits) {
  const auto tooMany = [&] {
    return makeError(ErrorCode::kTooLarge, "registration payload has more than " +
                                               std::to_string(limits.maxLinks) + " object links");
  };
  // The rt="oma.lwm2m" link does not count against maxLinks, so allow one more link here.
  const std::size_t maxTotal = limits.maxLinks == std::numeric_limits<std::size_t>::max()
                                   ? limits.maxLinks
                                   : limits.maxLinks + 1;
  auto parsed = parseLinkFormat(payload, maxTotal);
  if (!parsed) {
    if (parsed.error().code == ErrorCode::kTooLarge) return tooMany();
    return parsed.error();
  }
  const std::vector<Link>& links = *parsed;

  ObjectList out;
  // LwM2M 1.1 TS 6.2.1 / 1.0 TS 5.3.1: the link with rt="oma.lwm2m" names the alternate path
  // under which all object links sit, and carries the supported content formats in ct=.
  const Link* root = nullptr;
  for (const Link& link : links) {
    if (!hasResourceType(link, "oma.lwm2m")) continue;
    if (root != nullptr) {
      return makeError(ErrorCode::kBadRequest,
                       "registration payload has more than one link with rt=\"oma.lwm2m\"");
    }
    root = &link;
  }
  if (root != nullptr) {
    if (!isValidAltPath(root->target)) {
      return makeError(ErrorCode::kBadRequest, "invalid alternate path " + angled(root->target) +
                                                   ": use </> or </seg/...> of A-Za-z0-9_.~-");
    }
    out.altPath = root->target;
    if (const auto* ct = findParam(*root, "ct")) {
      auto formats = parseContentFormats(*ct);
      if (!formats) return formats.error();
      out.contentFormats = std::move(*formats);
    }
  }

  // Identifies an object link (no instance) or an instance link for duplicate detection.
  std::set<std::pair<std::uint16_t, std::int32_t>> seen;
  for (const Link& link : links) {
    if (&link == root) continue;
    if (out.links.size() == limits.maxLinks) return tooMany();
    auto object = parseObjectTarget(link.target, out.altPath);
    if (!object) return object.error();
    // LwM2M 1.1 TS 6.2.1 Table 6.2.1-1: "Security Object ID:0 ... MUST NOT be part of this list".
    if (object->objectId == 0) {
      return makeError(ErrorCode::kBadRequest,
                       "link " + angled(link.target) +
                           " not allowed: the Security object (0) must not be listed");
    }
    const std::int32_t instanceKey = object->instanceId ? *object->instanceId : -1;
    if (!seen.emplace(object->objectId, instanceKey).second) {
      return makeError(ErrorCode::kBadRequest, "duplicate object link " + angled(link.target));
    }
    // LwM2M 1.0 puts ver= on object links; 1.1+ also on the first instance link. Any other
    // parameter "MUST be silently ignored" (LwM2M 1.1 TS 6.2.1).
    if (const auto* ver = findParam(link, "ver")) {
      if (!*ver || !isVersionLike(**ver)) {
        return makeError(ErrorCode::kBadRequest,
                         "invalid ver=" + quoted(ver->value_or(""), kMidEcho) + " on " +
                             angled(link.target, kMidEcho) + ": expected X.Y such as ver=1.1");
      }
      object->version = **ver;
    }
    out.links.push_back(std::move(*object));
  }
  return out;
}

std::string formatObjectList(const ObjectList& list) {
  std::string out;
  if (list.altPath != "/" || !list.contentFormats.empty()) {
    out += '<' + list.altPath + ">;rt=\"oma.lwm2m\"";
    if (list.contentFormats.size() == 1) {
      out += ";ct=" + std::to_string(list.contentFormats.front());
    } else if (!list.contentFormats.empty()) {
      out += ";ct=\"";
      for (std::size_t i = 0; i < list.contentFormats.size(); ++i) {
        if (i != 0) out += ' ';
        out += std::to_string(list.contentFormats[i]);
      }
      out += '"';
    }
  }
  const std::string prefix = list.altPath == "/" ? std::string() : list.altPath;
  for (const ObjectLink& link : list.links) {
    if (!out.empty()) out += ',';
    out += '<' + prefix + '/' + std::to_string(link.objectId);
    if (link.instanceId) out += '/' + std::to_string(*link.instanceId);
    out += '>';
    if (link.version) out += ";ver=" + quoteIfNeeded(*link.version);
  }
  return out;
}

}  // namespace lwgate::lwm2m
