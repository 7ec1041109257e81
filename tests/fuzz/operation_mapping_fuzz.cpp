// Fuzz target: LwM2M operations to CoAP requests (core/operation_mapping.h), with the request's
// path, payload (Write-Attributes and Observe attributes, Execute arguments) and formats, and
// the registration's version, alternate path and declared formats from the input:
//   byte 0 operation, byte 1 version, byte 2 alternate path, byte 3 which formats are set,
//   bytes 4-5 Accept, 6-7 Content-Format, 8 the declared ct= list; then the path up to '\n',
//   the rest is the payload.
// Properties: an accepted request has only non-empty Uri-Path segments without '/', only
// well-formed attribute queries, Observe exactly on the observe operations, and no composite
// operation for a 1.0 device.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "gateway/core/operation_mapping.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace lwgate;
  using core::Operation;
  using fuzz::check;
  static constexpr std::array<std::string_view, 3> kVersions{"1.0", "1.1", "1.2"};
  static constexpr std::array<std::string_view, 4> kAlt{"/", "/lwm2m", "/a/b.c", "/x~y_z-"};
  static constexpr std::array<std::uint16_t, 6> kDeclared{0, 40, 110, 112, 11542, 11543};

  fuzz::Reader in({data, size});
  core::DownlinkRequest request;
  request.operation = static_cast<Operation>(in.byte() % 13);
  core::Registration reg;
  reg.version = kVersions[in.byte() % kVersions.size()];
  reg.objects.altPath = kAlt[in.byte() % kAlt.size()];
  const std::uint8_t set = in.byte();
  const std::uint16_t accept = in.u16();
  const std::uint16_t contentFormat = in.u16();
  if (set & 1) request.acceptFormat = accept;
  if (set & 2) request.contentFormat = contentFormat;
  const std::uint8_t declared = in.byte();
  for (std::size_t k = 0; k < kDeclared.size(); ++k) {
    if (declared & (1u << k)) reg.objects.contentFormats.push_back(kDeclared[k]);
  }
  const auto rest = in.rest();
  auto text = fuzz::asText(rest.data(), rest.size());
  auto nl = text.find('\n');
  request.path = std::string(text.substr(0, nl));
  if (nl != std::string_view::npos) {
    auto payload = fuzz::asBytes(text.substr(nl + 1));
    request.payload.assign(payload.begin(), payload.end());
  }

  auto out = core::toCoapRequest(request, reg);
  if (!out) {
    check(!out.error().message.empty(), "error has a message");
    return 0;
  }
  for (const auto& seg : out->uriPath) {
    check(!seg.empty() && seg.find('/') == std::string::npos, "Uri-Path segment");
  }
  for (const auto& q : out->uriQuery) {
    check(q.find('=') != std::string::npos && q.find('&') == std::string::npos, "attribute query");
  }
  const Operation op = request.operation;
  const bool observe = op == Operation::kObserve || op == Operation::kCancelObserve ||
                       op == Operation::kObserveComposite;
  check(out->observe.has_value() == observe, "Observe option only on observe operations");
  const bool composite = op == Operation::kReadComposite || op == Operation::kWriteComposite ||
                         op == Operation::kObserveComposite;
  check(!(composite && reg.version == "1.0"), "no composite operation for 1.0");
  (void)core::preferredFormat(reg, request.path);
  return 0;
}
