#pragma once
// SMS PDUs for tests (3GPP TS 23.040 9.2.2): decoding the SMS-SUBMIT PDUs a modem was given
// (as the AT modem simulator records them, SMSC address first) and building SMS-DELIVER PDUs
// to put in its inbox. Written from the spec, independently of libgammu, so a test can catch
// what gammu or our backend gets wrong.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lwgate::testing {

inline std::optional<std::vector<std::uint8_t>> fromHex(const std::string& hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  if (hex.size() % 2) return std::nullopt;
  std::vector<std::uint8_t> out;
  for (std::size_t k = 0; k < hex.size(); k += 2) {
    int hi = nibble(hex[k]), lo = nibble(hex[k + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<std::uint8_t>(hi << 4 | lo));
  }
  return out;
}

inline std::string toHex(const std::vector<std::uint8_t>& bytes) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (auto b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

struct SubmitPdu {
  std::string smsc;  // "+491710760000", "" when the PDU says "use the default"
  bool statusReportRequest = false;
  bool udhi = false;
  std::optional<std::uint8_t> validity;  // relative TP-VP
  std::uint8_t reference = 0;            // TP-MR as the phone filled it in (often 0)
  std::string destination;               // "+4915112345678"
  std::uint8_t dcs = 0;
  std::vector<std::uint8_t> header;  // UDH with its length octet, when udhi
  std::vector<std::uint8_t> data;    // user data after the header
};

namespace pdu_detail {
inline std::string semiOctets(const std::vector<std::uint8_t>& b, std::size_t at,
                              std::size_t digits) {
  std::string out;
  for (std::size_t k = 0; k < digits; ++k) {
    std::uint8_t octet = b[at + k / 2];
    int d = k % 2 ? octet >> 4 : octet & 15;
    out.push_back(static_cast<char>('0' + d));
  }
  return out;
}
}  // namespace pdu_detail

// Decodes "<SCA><TPDU>" hex; nullopt for anything malformed or not an 8-bit SMS-SUBMIT.
inline std::optional<SubmitPdu> decodeSubmit(const std::string& hex) {
  auto b = fromHex(hex);
  if (!b || b->empty()) return std::nullopt;
  SubmitPdu p;
  std::size_t at = 0;
  const std::size_t scaLen = (*b)[at++];
  if (at + scaLen > b->size()) return std::nullopt;
  if (scaLen > 1) {
    p.smsc = ((*b)[at] == 0x91 ? "+" : "") + pdu_detail::semiOctets(*b, at + 1, (scaLen - 1) * 2);
    if (!p.smsc.empty() && p.smsc.back() == '0' + 15) p.smsc.pop_back();
  }
  at += scaLen;
  if (at + 3 > b->size()) return std::nullopt;
  const std::uint8_t fo = (*b)[at++];
  if ((fo & 3) != 1) return std::nullopt;  // not SMS-SUBMIT
  p.statusReportRequest = fo & 0x20;
  p.udhi = fo & 0x40;
  const int vpf = (fo >> 3) & 3;
  p.reference = (*b)[at++];
  const std::size_t digits = (*b)[at++];
  if (at + 1 + (digits + 1) / 2 > b->size()) return std::nullopt;
  const std::uint8_t toa = (*b)[at++];
  p.destination = (toa == 0x91 ? "+" : "") + pdu_detail::semiOctets(*b, at, digits);
  at += (digits + 1) / 2;
  if (at + 2 > b->size()) return std::nullopt;
  at++;  // PID
  p.dcs = (*b)[at++];
  if (vpf == 2) {
    if (at >= b->size()) return std::nullopt;
    p.validity = (*b)[at++];
  } else if (vpf != 0) {
    at += 7;  // enhanced or absolute
  }
  if (at >= b->size()) return std::nullopt;
  const std::size_t udl = (*b)[at++];
  if ((p.dcs & 0x0c) != 0x04 || at + udl != b->size()) return std::nullopt;  // 8-bit only
  std::size_t udh = 0;
  if (p.udhi) {
    if (udl == 0) return std::nullopt;
    udh = std::size_t{(*b)[at]} + 1;
    if (udh > udl) return std::nullopt;
    p.header.assign(b->begin() + static_cast<std::ptrdiff_t>(at),
                    b->begin() + static_cast<std::ptrdiff_t>(at + udh));
  }
  p.data.assign(b->begin() + static_cast<std::ptrdiff_t>(at + udh), b->end());
  return p;
}

// An 8-bit SMS-DELIVER TPDU (no SMSC address) from `msisdn` ("+49..."), hex.
inline std::string deliverPdu(const std::string& msisdn, const std::vector<std::uint8_t>& header,
                              const std::vector<std::uint8_t>& data) {
  std::vector<std::uint8_t> b;
  b.push_back(static_cast<std::uint8_t>(0x04 | (header.empty() ? 0 : 0x40)));  // MTI 00, MMS
  const bool intl = !msisdn.empty() && msisdn[0] == '+';
  const std::string digits = intl ? msisdn.substr(1) : msisdn;
  b.push_back(static_cast<std::uint8_t>(digits.size()));
  b.push_back(intl ? 0x91 : 0x81);
  for (std::size_t k = 0; k < digits.size(); k += 2) {
    int lo = digits[k] - '0';
    int hi = k + 1 < digits.size() ? digits[k + 1] - '0' : 15;
    b.push_back(static_cast<std::uint8_t>(hi << 4 | lo));
  }
  b.push_back(0x00);  // PID
  b.push_back(0x04);  // DCS: 8-bit data
  for (std::uint8_t ts : {0x62, 0x90, 0x22, 0x51, 0x30, 0x00, 0x00}) b.push_back(ts);
  b.push_back(static_cast<std::uint8_t>(header.size() + data.size()));
  b.insert(b.end(), header.begin(), header.end());
  b.insert(b.end(), data.begin(), data.end());
  return toHex(b);
}

}  // namespace lwgate::testing
