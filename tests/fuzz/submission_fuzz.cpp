// Fuzz target: what a D-Bus caller sends (core/submission.h): operation, endpoint, paths, typed
// values, arguments and options, checked, typed by the object model and encoded. Input, one
// item per line:
//   line 1 the operation name ("write", "read-composite", ...), line 2 the endpoint, line 3 the
//   path; then any of
//   v <path> <s|i|u|d|b|o|t|l> <value>  a value (string, integer, unsigned, float, boolean,
//                                       opaque as text bytes, time, objlnk "O:I")
//   p <path>   a composite path        t <text>   Execute arguments / attributes
//   f <fmt>    format ("tlv", "112")   ttl <s>    k <key>    i <instance>    partial
//   reg <version> <link-format>        the device's registration (else: not registered)
// Properties: path texts round-trip through lwm2m::Path; an accepted request maps to CoAP for
// its device, stays within the payload limit, and a Write's payload decodes in its own format
// at its own path (the gateway can read what it sends). renderResult of any answer is safe.
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/core/operation_mapping.h"
#include "gateway/core/submission.h"
#include "gateway/lwm2m/content_format.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using namespace lwgate;
using fuzz::check;

template <class T>
std::optional<T> number(std::string_view s) {
  T v{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// "word rest" -> {"word", "rest"}
std::pair<std::string_view, std::string_view> head(std::string_view s) {
  auto space = s.find(' ');
  if (space == std::string_view::npos) return {s, {}};
  return {s.substr(0, space), s.substr(space + 1)};
}

std::optional<lwm2m::Value> valueOf(std::string_view type, std::string_view text) {
  switch (type.empty() ? 's' : type.front()) {
    case 'i':
      if (auto v = number<std::int64_t>(text)) return lwm2m::Value::integer(*v);
      return std::nullopt;
    case 'u':
      if (auto v = number<std::uint64_t>(text)) return lwm2m::Value::unsignedInteger(*v);
      return std::nullopt;
    case 'd':
      if (auto v = number<double>(text)) return lwm2m::Value::floating(*v);
      return std::nullopt;
    case 'b':
      return lwm2m::Value::boolean(text == "1");
    case 'o':
      return lwm2m::Value::opaque(lwm2m::Opaque(text.begin(), text.end()));
    case 't':
      if (auto v = number<std::int64_t>(text)) return lwm2m::Value::time(*v);
      return std::nullopt;
    case 'l': {
      auto colon = text.find(':');
      auto o = number<std::uint16_t>(text.substr(0, colon));
      auto i = colon == std::string_view::npos ? std::nullopt
                                               : number<std::uint16_t>(text.substr(colon + 1));
      if (o && i) return lwm2m::Value::objlnk(*o, *i);
      return std::nullopt;
    }
    default:
      return lwm2m::Value::string(std::string(text));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto all = fuzz::lines(fuzz::asText(data, size), 48);
  if (all.size() < 3) return 0;
  auto op = core::parseOperation(all[0]);
  if (!op) return 0;
  core::CallerRequest caller;
  caller.operation = *op;
  caller.endpoint = std::string(all[1]);
  caller.path = std::string(all[2]);
  std::optional<core::Registration> reg;

  for (std::size_t k = 3; k < all.size(); ++k) {
    auto [word, rest] = head(all[k]);
    if (word == "v") {
      auto [path, typed] = head(rest);
      auto [type, text] = head(typed);
      if (auto v = valueOf(type, text)) caller.values.push_back({std::string(path), *v});
    } else if (word == "p") {
      caller.paths.emplace_back(rest);
    } else if (word == "t") {
      caller.text = std::string(rest);
    } else if (word == "f") {
      if (auto f = core::parseFormat(rest)) {
        caller.options.format = *f;
        check(core::parseFormat(core::formatName(*f)).ok(), "format names round-trip");
      }
    } else if (word == "ttl") {
      if (auto s = number<std::int64_t>(rest)) caller.options.ttl = core::Seconds(*s);
    } else if (word == "k") {
      caller.options.idempotencyKey = std::string(rest);
    } else if (word == "i") {
      caller.options.instance = number<std::uint16_t>(rest);
    } else if (word == "partial") {
      caller.options.partial = true;
    } else if (word == "reg") {
      auto [version, links] = head(rest);
      auto objects = lwm2m::parseObjectList(links, {.maxLinks = 32});
      if (!objects) continue;
      reg.emplace();
      reg->version = std::string(version);
      reg->objects = *objects;
    }
  }

  if (auto p = lwm2m::Path::parse(caller.path)) check(p->toString() == caller.path, "Path text");
  for (const auto& text : caller.paths) {
    if (auto p = lwm2m::Path::parse(text)) check(p->toString() == text, "Path text");
  }

  const core::SubmissionLimits limits{.maxPayload = 2048, .maxValues = 16, .maxKeyLength = 32};
  const auto& model = lwm2m::coreObjects();
  auto request =
      core::prepareRequest(caller, reg ? &*reg : nullptr, model, limits, core::WallTime{});
  if (!request) {
    check(!request.error().message.empty(), "error has a message");
    return 0;
  }
  check(request->payload.size() <= limits.maxPayload, "payload within the limit");
  core::Registration device;
  device.version = "1.1";
  check(core::toCoapRequest(*request, reg ? *reg : device).ok(), "accepted request maps to CoAP");

  const bool write = request->operation == core::Operation::kWrite ||
                     request->operation == core::Operation::kWritePartial;
  if (write) {
    auto at = lwm2m::Path::parse(request->path);
    check(at.ok() && request->contentFormat.has_value(), "write has a path and a format");
    auto decoded = lwm2m::decode(*request->contentFormat, request->payload, *at, model);
    check(decoded.ok(), "a write's payload decodes in its own format");
  }

  // The device's answer, rendered for the caller: any bytes in the format we asked for.
  request->responseCode = 0x45;
  request->responsePayload = request->payload;
  request->responseFormat = request->contentFormat;
  (void)core::renderResult(*request, model);
  return 0;
}
