#include "modem/gammu_backend.h"

#include <gammu.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace lwgate::modem {
namespace {

constexpr std::uint64_t kUnstoredBit = std::uint64_t{1} << 63;  // reports that came unsolicited
constexpr int kMaxListRounds = 1000;  // GetNextSMS calls per list(): more than any SIM holds

// Errors after which the device is gone or not answering: the connection is dropped and
// opened again (a pulled USB modem shows up only as one of these, on the next command).
bool deviceLost(GSM_Error e) {
  switch (e) {
    case ERR_DEVICEOPENERROR:
    case ERR_DEVICELOCKED:
    case ERR_DEVICENOTEXIST:
    case ERR_DEVICEBUSY:
    case ERR_DEVICENOPERMISSION:
    case ERR_DEVICENODRIVER:
    case ERR_DEVICENOTWORK:
    case ERR_DEVICEDTRRTSERROR:
    case ERR_DEVICECHANGESPEEDERROR:
    case ERR_DEVICEWRITEERROR:
    case ERR_DEVICEREADERROR:
    case ERR_DEVICEPARITYERROR:
    case ERR_TIMEOUT:
    case ERR_NOTCONNECTED:
    case ERR_PHONEOFF:
      return true;
    default:
      return false;
  }
}

std::string decodeNumber(const unsigned char* unicode) {
  char buffer[(GSM_MAX_NUMBER_LENGTH + 1) * 2] = {};
  DecodeUnicode(unicode, buffer);
  return buffer;
}

struct StateMachineDeleter {
  void operator()(GSM_StateMachine* s) const {
    if (GSM_IsConnected(s)) GSM_TerminateConnection(s);
    GSM_FreeStateMachine(s);
  }
};

class GammuBackend final : public Backend {
 public:
  explicit GammuBackend(GammuOptions options) : options_(std::move(options)) {}
  ~GammuBackend() override { disconnect(); }

  Result<Health> connect() override {
    disconnect();
    std::unique_ptr<GSM_StateMachine, StateMachineDeleter> sm(GSM_AllocStateMachine());
    if (!sm) return makeError(ErrorCode::kInternal, "cannot allocate a gammu state machine");
    INI_Section* ini = nullptr;
    GSM_Error e = GSM_FindGammuRC(&ini, options_.configPath.c_str());
    if (e != ERR_NONE) return fail(e, "reading " + options_.configPath);
    GSM_Config* config = GSM_GetConfig(sm.get(), 0);
    e = GSM_ReadConfig(ini, config, 0);
    INI_Free(ini);
    if (e != ERR_NONE) return fail(e, "reading " + options_.configPath);
    // gammurc's logfile/logformat apply to this state machine (gammu's default is a global log
    // that only its command line tool opens).
    config->UseGlobalDebugFile = FALSE;
    GSM_SetConfigNum(sm.get(), 1);
    e = GSM_InitConnection(sm.get(), 1);
    if (e != ERR_NONE) return fail(e, "connecting");
    sm_ = std::move(sm);
    lost_ = false;
    GSM_SetSendSMSStatusCallback(sm_.get(), &GammuBackend::onSendStatus, this);
    // Delivery reports the modem pushes (+CDS) come through this callback while GSM_ReadDevice
    // runs; received SMS are listed from the store instead (list()).
    GSM_SetIncomingSMSCallback(sm_.get(), &GammuBackend::onIncoming, this);
    (void)GSM_SetIncomingSMS(sm_.get(), TRUE);

    Health h;
    char value[GSM_MAX_INFO_LENGTH + 1] = {};
    if (GSM_GetManufacturer(sm_.get(), value) == ERR_NONE) h.manufacturer = value;
    std::memset(value, 0, sizeof value);
    if (GSM_GetModel(sm_.get(), value) == ERR_NONE) h.model = value;
    std::memset(value, 0, sizeof value);
    if (GSM_GetIMEI(sm_.get(), value) == ERR_NONE) h.imei = value;
    // The SMS centre's number, once: every PDU must carry it (gammu refuses an empty one) and
    // asking for it per SMS costs an AT+CSCA? each time.
    std::memset(&smsc_, 0, sizeof smsc_);
    smsc_.Location = 1;
    haveSmsc_ = GSM_GetSMSC(sm_.get(), &smsc_) == ERR_NONE &&
                (smsc_.Number[0] != 0 || smsc_.Number[1] != 0);
    return h;
  }

  void disconnect() override {
    sm_.reset();
    lost_ = false;
  }

  bool connected() const override { return sm_ != nullptr && !lost_; }

  Result<int> sendPart(const std::string& msisdn, const SmsPart& part,
                       const SendOptions& options) override {
    if (!connected()) return makeError(ErrorCode::kLimitReached, "modem not connected");
    if (part.header.size() + part.data.size() > kMaxUserData ||
        part.header.size() > GSM_MAX_UDH_LENGTH || msisdn.size() > GSM_MAX_NUMBER_LENGTH) {
      return makeError(ErrorCode::kBadRequest, "SMS part too large or number too long");
    }
    auto sms = std::make_unique<GSM_SMSMessage>();
    GSM_SetDefaultSMSData(sms.get());
    // SMS_Status_Report on a message to send is how gammu sets TP-SRR.
    sms->PDU = options.statusReport ? SMS_Status_Report : SMS_Submit;
    sms->Coding = SMS_Coding_8bit;
    sms->Class = -1;  // no message class: not a flash SMS, not stored on the SIM
    EncodeUnicode(sms->Number, msisdn.c_str(), msisdn.size());
    if (haveSmsc_) {
      sms->SMSC = smsc_;
      sms->SMSC.Location = 0;
    }
    sms->SMSC.Validity.Format = SMS_Validity_RelativeFormat;
    sms->SMSC.Validity.Relative =
        static_cast<GSM_ValidityPeriod>(relativeValidity(options.validity));
    if (part.header.empty()) {
      sms->UDH.Type = UDH_NoUDH;
    } else {
      sms->UDH.Type = UDH_UserUDH;  // our own header bytes, length octet first
      std::memcpy(sms->UDH.Text, part.header.data(), part.header.size());
      sms->UDH.Length = static_cast<int>(part.header.size());
    }
    std::memcpy(sms->Text, part.data.data(), part.data.size());
    sms->Length = static_cast<int>(part.data.size());

    sendAnswered_ = false;
    GSM_Error e = GSM_SendSMS(sm_.get(), sms.get());
    if (e != ERR_NONE) return failAndProbe(e, "sending an SMS");
    // GSM_SendSMS returns once the PDU is written; the modem's answer (+CMGS: <mr> or +CMS
    // ERROR) arrives through onSendStatus while GSM_ReadDevice reads. Each ReadDevice call
    // waits at most about a second.
    const auto deadline = std::chrono::steady_clock::now() + options_.sendTimeout;
    while (!sendAnswered_ && std::chrono::steady_clock::now() < deadline) {
      if (GSM_ReadDevice(sm_.get(), TRUE) < 0) {
        lost_ = true;
        return makeError(ErrorCode::kLimitReached, "modem connection lost while sending");
      }
    }
    if (!sendAnswered_) {
      lost_ = true;
      return makeError(ErrorCode::kLimitReached, "no answer from the modem within " +
                                                     std::to_string(options_.sendTimeout.count()) +
                                                     "s of sending");
    }
    if (sendStatus_ != 0) {
      return makeError(ErrorCode::kLimitReached,
                       sendStatus_ > 0
                           ? "the modem refused the SMS: +CMS ERROR " + std::to_string(sendStatus_)
                           : std::string("the modem refused the SMS"));
    }
    return sendReference_;
  }

  Result<std::vector<StoredSms>> list() override {
    if (!connected()) return makeError(ErrorCode::kLimitReached, "modem not connected");
    // Unsolicited input first (delivery reports): bounded, it returns at once when idle.
    for (int k = 0; k < 16 && GSM_ReadDevice(sm_.get(), FALSE) > 0; ++k) {
    }
    std::vector<StoredSms> out = std::exchange(pushed_, {});
    auto multi = std::make_unique<GSM_MultiSMSMessage>();
    std::memset(multi.get(), 0, sizeof *multi);
    int lastUndecodable = 0;
    bool start = true;
    for (int round = 0; round < kMaxListRounds; ++round) {
      GSM_Error e = GSM_GetNextSMS(sm_.get(), multi.get(), start);
      if (e == ERR_EMPTY) break;
      if (e != ERR_NONE) {
        // gammu's AT driver (at-sms.c ATGEN_GetNextSMS) sets the location before it decodes
        // the PDU there: one message it cannot decode is reported for deletion and the listing
        // goes on after it, instead of hiding every SMS behind it on every poll.
        const int location = multi->Number >= 1 ? multi->SMS[0].Location : 0;
        if (deviceLost(e) || location <= 0 || location == lastUndecodable) {
          return failAndProbe(e, "listing stored SMS");
        }
        lastUndecodable = location;
        StoredSms bad;
        bad.kind = StoredSms::Kind::kUndecodable;
        bad.handle =
            (static_cast<std::uint64_t>(static_cast<std::uint32_t>(multi->SMS[0].Folder)) << 32) |
            static_cast<std::uint32_t>(location);
        bad.detail = GSM_ErrorString(e);
        out.push_back(std::move(bad));
        start = false;
        continue;
      }
      start = false;
      for (int i = 0; i < multi->Number && i < GSM_MAX_MULTI_SMS; ++i) {
        out.push_back(convert(multi->SMS[i]));
      }
    }
    return out;
  }

  Result<void> remove(std::uint64_t handle) override {
    if (handle & kUnstoredBit) return {};
    if (!connected()) return makeError(ErrorCode::kLimitReached, "modem not connected");
    auto sms = std::make_unique<GSM_SMSMessage>();
    std::memset(sms.get(), 0, sizeof *sms);
    sms->Folder = static_cast<int>(handle >> 32);
    sms->Location = static_cast<int>(handle & 0xffffffff);
    GSM_Error e = GSM_DeleteSMS(sm_.get(), sms.get());
    if (e != ERR_NONE) return failAndProbe(e, "deleting a stored SMS");
    return {};
  }

  Result<void> check(Health& h) override {
    if (!connected()) return makeError(ErrorCode::kLimitReached, "modem not connected");
    GSM_SecurityCodeType sec{};
    GSM_Error e = GSM_GetSecurityStatus(sm_.get(), &sec);
    if (e == ERR_NONE) {
      switch (sec) {
        case SEC_None:
          h.sim = "ready";
          break;
        case SEC_Pin:
        case SEC_Pin2:
          h.sim = "pin-required";
          break;
        case SEC_Puk:
        case SEC_Puk2:
          h.sim = "puk-required";
          break;
        default:
          h.sim = "locked";
      }
    } else if (e == ERR_NOSIM) {
      h.sim = "absent";
    } else if (deviceLost(e)) {
      return fail(e, "asking for the SIM state");
    } else {
      h.sim = "unknown";
    }

    GSM_NetworkInfo net;
    std::memset(&net, 0, sizeof net);
    e = GSM_GetNetworkInfo(sm_.get(), &net);
    if (e != ERR_NONE && deviceLost(e)) return fail(e, "asking for the network");
    // The state is read even when the call reports a failure: gammu 1.42's dummy driver fills
    // it in and returns no status at all.
    switch (net.State) {
      case GSM_HomeNetwork:
        h.network = "home";
        break;
      case GSM_RoamingNetwork:
        h.network = "roaming";
        break;
      case GSM_RequestingNetwork:
        h.network = "searching";
        break;
      case GSM_RegistrationDenied:
        h.network = "denied";
        break;
      case GSM_NoNetwork:
        h.network = "none";
        break;
      default:
        h.network = "unknown";
    }

    GSM_SignalQuality sq;
    std::memset(&sq, 0, sizeof sq);
    e = GSM_GetSignalQuality(sm_.get(), &sq);
    if (e == ERR_NONE) {
      h.signalPercent = sq.SignalPercent >= 0 ? std::optional<int>(sq.SignalPercent) : std::nullopt;
      h.signalDbm = sq.SignalStrength < 0 && sq.SignalStrength != -1
                        ? std::optional<int>(sq.SignalStrength)
                        : std::nullopt;
    } else if (deviceLost(e)) {
      return fail(e, "asking for the signal quality");
    } else {
      h.signalPercent.reset();
      h.signalDbm.reset();
    }
    return {};
  }

 private:
  // The one place a GSM_Error becomes ours.
  Error fail(GSM_Error e, const std::string& what) {
    if (deviceLost(e)) lost_ = true;
    return makeError(deviceLost(e) ? ErrorCode::kLimitReached : ErrorCode::kInternal,
                     what + ": " + GSM_ErrorString(e) + " (" + GSM_ErrorName(e) + ")");
  }

  // As fail(), and when the error does not say whether the device is still there, asks it
  // something cheap (AT+CSQ). gammu 1.42's AT driver reports a tty that went away during
  // GSM_SendSMS as ERR_BUG ("SMS mode not set": the write errors of its mode probing are
  // swallowed), seen against the pty modem simulator.
  Error failAndProbe(GSM_Error e, const std::string& what) {
    Error err = fail(e, what);
    if (!lost_ && sm_ && (e == ERR_BUG || e == ERR_UNKNOWN || e == ERR_UNKNOWNRESPONSE)) {
      GSM_SignalQuality sq;
      std::memset(&sq, 0, sizeof sq);
      const GSM_Error probe = GSM_GetSignalQuality(sm_.get(), &sq);
      if (deviceLost(probe)) {
        lost_ = true;
        err.code = ErrorCode::kLimitReached;
        err.message += std::string("; the modem is gone: ") + GSM_ErrorString(probe);
      }
    }
    return err;
  }

  StoredSms convert(const GSM_SMSMessage& m) {
    StoredSms s;
    s.handle = (static_cast<std::uint64_t>(static_cast<std::uint32_t>(m.Folder)) << 32) |
               static_cast<std::uint32_t>(m.Location);
    s.msisdn = decodeNumber(m.Number);
    if (m.PDU == SMS_Deliver) {
      s.kind = StoredSms::Kind::kDeliver;
    } else if (m.PDU == SMS_Status_Report) {
      s.kind = StoredSms::Kind::kStatusReport;
      s.reference = m.MessageReference;
      s.status = m.DeliveryStatus;
      return s;
    } else {
      return s;
    }
    s.eightBit = m.Coding == SMS_Coding_8bit;
    if (m.UDH.Type != UDH_NoUDH && m.UDH.Length > 0) {
      const int n = std::min(m.UDH.Length, GSM_MAX_UDH_LENGTH);
      s.header.assign(m.UDH.Text, m.UDH.Text + n);
    }
    if (s.eightBit && m.Length > 0) {
      const int n = std::min(m.Length, GSM_MAX_8BIT_SMS_LENGTH);
      s.data.assign(m.Text, m.Text + n);
    }
    return s;
  }

  static void onSendStatus(GSM_StateMachine*, int status, int reference, void* self) {
    auto* b = static_cast<GammuBackend*>(self);
    b->sendAnswered_ = true;
    b->sendStatus_ = status;
    b->sendReference_ = reference;
  }

  static void onIncoming(GSM_StateMachine*, GSM_SMSMessage* sms, void* self) {
    auto* b = static_cast<GammuBackend*>(self);
    if (sms == nullptr || sms->PDU != SMS_Status_Report) return;  // +CMTI: listed later
    if (b->pushed_.size() >= 256) return;  // bounded; reports are informational
    StoredSms s = b->convert(*sms);
    s.handle = kUnstoredBit | ++b->pushedCount_;
    b->pushed_.push_back(std::move(s));
  }

  GammuOptions options_;
  std::unique_ptr<GSM_StateMachine, StateMachineDeleter> sm_;
  bool lost_ = false;
  GSM_SMSC smsc_{};
  bool haveSmsc_ = false;
  bool sendAnswered_ = false;
  int sendStatus_ = 0;
  int sendReference_ = -1;
  std::vector<StoredSms> pushed_;  // reports from onIncoming, until the next list()
  std::uint64_t pushedCount_ = 0;
};

}  // namespace

std::unique_ptr<Backend> makeGammuBackend(const GammuOptions& options) {
  return std::make_unique<GammuBackend>(options);
}

std::uint8_t relativeValidity(core::Seconds validity) {
  const std::int64_t s = std::max<std::int64_t>(validity.count(), 1);
  auto steps = [&](std::int64_t from, std::int64_t unit) { return (s - from + unit - 1) / unit; };
  if (s <= 12 * 3600) return static_cast<std::uint8_t>(steps(0, 300) - 1);
  if (s <= 24 * 3600) return static_cast<std::uint8_t>(143 + steps(12 * 3600, 1800));
  if (s <= 30 * 86400) return static_cast<std::uint8_t>(166 + steps(0, 86400));
  return static_cast<std::uint8_t>(192 + std::min<std::int64_t>(steps(0, 7 * 86400), 63));
}

}  // namespace lwgate::modem
