// Fuzz target: the query parameters of Register and Update (lwm2m/registration_params.h).
// Input: one Uri-Query option value per line; the first line chooses Register ("R") or Update
// (anything else). Properties beyond "no crash": an accepted Register names a valid endpoint,
// a lifetime of at least 1 s, a binding whose letters come from b= and a checkable MSISDN.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "gateway/lwm2m/registration_params.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using namespace lwgate;
using lwgate::fuzz::check;

void checkBinding(const lwm2m::Binding& b) {
  for (char c : b.transports) {
    check(std::string_view("USTNMH").find(c) != std::string_view::npos, "transport letter");
    check(b.text.find(c) != std::string::npos, "transport not in b=");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto all = fuzz::lines(fuzz::asText(data, size), 64);
  if (all.empty()) return 0;
  const bool isRegister = all.front() == "R";
  std::vector<std::string_view> queries(all.begin() + 1, all.end());
  if (isRegister) {
    auto p = lwm2m::parseRegisterParams(queries);
    if (p) {
      check(!p->endpoint.empty() && p->endpoint.size() <= lwm2m::kMaxEndpointLength, "ep length");
      check(!p->lifetime || *p->lifetime >= 1, "lt >= 1");
      check(lwm2m::isSupportedVersion(p->version), "version supported");
      checkBinding(p->binding);
      check(!p->binding.transports.empty(), "register binding has a transport");
      if (p->smsNumber) check(lwm2m::checkMsisdn(*p->smsNumber).ok(), "sms is an MSISDN");
    } else {
      check(!p.error().message.empty(), "error has a message");
    }
  } else {
    auto p = lwm2m::parseUpdateParams(queries);
    if (p) {
      check(!p->lifetime || *p->lifetime >= 1, "lt >= 1");
      if (p->binding) checkBinding(*p->binding);
      if (p->smsNumber) check(lwm2m::checkMsisdn(*p->smsNumber).ok(), "sms is an MSISDN");
    } else {
      check(!p.error().message.empty(), "error has a message");
    }
  }
  return 0;
}
