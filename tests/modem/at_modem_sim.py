#!/usr/bin/env python3
"""An AT-command GSM modem on a pseudo-terminal, for lwgate's tests of the real gammu AT path.

It answers what gammu's AT driver sends when it connects (ATE1, AT+CMEE, AT+CSCS, AT+CGMI/
CGMM/CGMR/CGSN, AT+CPIN?, AT+CREG?, AT+CSQ, AT+CMGF, AT+CPMS, ...) and AT+CMGS in PDU mode
with the '> ' prompt, answering +CMGS: <message reference>. Every PDU it is given is appended
to a file as one line of hex. It holds an inbox of SMS-DELIVER PDUs (AT+CMGL/CMGR/CMGD).

Usage: at_modem_sim.py --link PATH --pdus FILE --control FIFO [--log FILE]
  --link     a symlink made to point at the pty's slave side: gammurc's device = PATH
  --pdus     every PDU given with AT+CMGS, one line of hex each (SCA included, as sent)
  --control  a FIFO this program creates; write one command per line to it:
               cms-error N    answer the next AT+CMGS with +CMS ERROR: N (once)
               no-network     AT+CREG? says not registered, AT+CMGS fails (+CMS ERROR: 331)
               network        registered again
               unplug [S]     close the tty (the reader sees a hang-up); reopen after S
                              seconds (default 1) on a new pty, and re-point the link
               deliver HEX    put an SMS-DELIVER PDU (no SCA prefix needed: "00" is added)
                              in the inbox
               status-report MR ST [NUMBER]   send an unsolicited +CDS status report for MR
                              with TP-ST, for NUMBER (the recipient; "+49..." international)
               quit           stop
It prints "ready <pty>" on stdout once the link exists, and one line per event.
"""

import argparse
import os
import select
import sys
import time
import tty


def log(msg):
    print(msg, flush=True)


def address(number):
    """A TP address (TS 23.040 9.1.2.5): digit count, type, semi-octets swapped, F-padded."""
    digits = number.lstrip("+")
    kind = "91" if number.startswith("+") or not number else "81"
    padded = digits + ("F" if len(digits) % 2 else "")
    swapped = "".join(padded[i + 1] + padded[i] for i in range(0, len(padded), 2))
    return "%02X%s%s" % (len(digits), kind, swapped)


class Modem:
    def __init__(self, args):
        self.args = args
        self.echo = True
        self.network = True
        self.creg_mode = 0
        self.cms_error_next = None
        self.mr = 0
        self.inbox = {}  # index -> PDU hex (with SCA)
        self.next_index = 1
        self.master = None
        self.reopen_at = None
        self.line = b""
        self.pdu_len = None  # in PDU entry after AT+CMGS=<n>
        self.pdu = b""

    # --- the pty ---------------------------------------------------------------------------
    def open_pty(self):
        master, slave = os.openpty()
        tty.setraw(slave)
        name = os.ttyname(slave)
        # The slave stays closed here: when gammu closes it, nothing else holds it, and when we
        # close the master, gammu sees a hang-up.
        os.close(slave)
        tmp = self.args.link + ".tmp"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(name, tmp)
        os.replace(tmp, self.args.link)
        self.master = master
        self.line = b""
        self.pdu_len = None
        log("ready " + name)

    def unplug(self, seconds):
        if self.master is not None:
            os.close(self.master)
            self.master = None
        if os.path.lexists(self.args.link):
            os.unlink(self.args.link)
        self.reopen_at = time.monotonic() + seconds
        log("unplugged")

    def write(self, data):
        if self.master is None:
            return
        try:
            os.write(self.master, data)
        except OSError:
            pass

    def reply(self, *lines, final="OK"):
        out = b""
        for line in lines:
            out += b"\r\n" + line.encode() + b"\r\n"
        out += b"\r\n" + final.encode() + b"\r\n"
        self.write(out)

    # --- input ------------------------------------------------------------------------------
    def on_input(self, data):
        for byte in data:
            b = bytes([byte])
            if self.pdu_len is not None:
                self.on_pdu_byte(b)
                continue
            if self.echo:
                self.write(b)
            if b == b"\x1b":  # escape: drop the line
                self.line = b""
            elif b == b"\r":
                line, self.line = self.line, b""
                self.on_line(line.decode("ascii", "replace").strip())
            elif b == b"\n":
                pass
            else:
                self.line += b

    def on_pdu_byte(self, b):
        if self.echo and b not in (b"\x1a", b"\x1b"):
            self.write(b)
        if b == b"\x1b":
            self.pdu_len = None
            self.pdu = b""
            self.reply(final="OK")
            return
        if b != b"\x1a":
            if b not in (b"\r", b"\n"):
                self.pdu += b
            return
        pdu = self.pdu.decode("ascii", "replace").upper()
        self.pdu_len, self.pdu = None, b""
        with open(self.args.pdus, "a") as f:
            f.write(pdu + "\n")
        if not self.network:
            log("cmgs refused (no network) " + pdu)
            self.reply(final="+CMS ERROR: 331")
        elif self.cms_error_next is not None:
            code, self.cms_error_next = self.cms_error_next, None
            log("cmgs error %d %s" % (code, pdu))
            self.reply(final="+CMS ERROR: %d" % code)
        else:
            self.mr = (self.mr + 1) % 256
            log("cmgs %d %s" % (self.mr, pdu))
            self.reply("+CMGS: %d" % self.mr)

    def on_line(self, line):
        if not line:
            return
        up = line.upper()
        if not up.startswith("AT"):
            self.reply(final="ERROR")
            return
        cmd = up[2:]
        log("at " + line)
        stat = "1" if self.network else "0"
        creg = "%d,%s" % (self.creg_mode, stat)
        if self.creg_mode == 2 and self.network:
            creg += ',"00C3","A1B2"'
        simple = {
            "": [],
            "Z": [],
            "+CMEE=1": [],
            "+CMEE=2": [],
            "+CFUN=1": [],
            "+CFUN?": ["+CFUN: 1"],
            "+CSCS?": ['+CSCS: "GSM"'],
            "+CSCS=?": ['+CSCS: ("GSM","IRA","UCS2")'],
            "+CGMI": ["lwgate"],
            "+CGMM": ["ATSIM-1"],
            "+CGMR": ["1.0"],
            "+CGSN": ["356938035643809"],
            "+CIMI": ["262011234567890"],
            "+CPIN?": ["+CPIN: READY"],
            "+CREG?": ["+CREG: " + creg],
            "+CGREG?": ["+CGREG: 0," + stat],
            "+CGATT?": ["+CGATT: 1" if self.network else "+CGATT: 0"],
            "+COPS?": ['+COPS: 0,2,"26201"' if self.network else "+COPS: 0"],
            "+CSQ": ["+CSQ: 20,99" if self.network else "+CSQ: 99,99"],
            "+CMGF?": ["+CMGF: 0"],
            "+CMGF=?": ["+CMGF: (0,1)"],
            "+CMGF=0": [],
            "+CSMS?": ["+CSMS: 0,1,1,1"],
            "+CSCA?": ['+CSCA: "+491710760000",145'],
            "+CPMS=?": ['+CPMS: ("SM"),("SM"),("SM")'],
            "+CPMS?": ['+CPMS: "SM",%d,20,"SM",%d,20,"SM",%d,20' % ((len(self.inbox),) * 3)],
            "+CNMI=?": ["+CNMI: (0-2),(0-3),(0,2),(0-2),(0,1)"],
            "+CNMI?": ["+CNMI: 0,0,0,0,0"],
            "+CBC": ["+CBC: 0,100"],
        }
        if cmd in ("E0", "E1"):
            self.echo = cmd == "E1"
            self.reply()
        elif cmd in simple:
            self.reply(*simple[cmd])
        elif cmd.startswith("+CREG="):
            self.creg_mode = int(cmd[6:]) if cmd[6:].isdigit() else 0
            self.reply()
        elif any(cmd.startswith(p) for p in ("+CSCS=", "+CNMI=", "+CGREG=", "+COPS=")):
            self.reply()
        elif cmd.startswith("+CPMS="):
            n = len(self.inbox)
            self.reply("+CPMS: %d,20,%d,20,%d,20" % (n, n, n))
        elif cmd.startswith("+CMGS="):
            try:
                self.pdu_len = int(cmd[6:])
            except ValueError:
                self.reply(final="ERROR")
                return
            self.pdu = b""
            self.write(b"\r\n> ")
        elif cmd.startswith("+CMGL"):
            lines = []
            for index, pdu in sorted(self.inbox.items()):
                lines += ["+CMGL: %d,0,,%d" % (index, len(pdu) // 2 - 1), pdu]
            self.reply(*lines)
        elif cmd.startswith("+CMGR="):
            index = int(cmd[6:]) if cmd[6:].isdigit() else -1
            if index in self.inbox:
                pdu = self.inbox[index]
                self.reply("+CMGR: 0,,%d" % (len(pdu) // 2 - 1), pdu)
            else:
                self.reply(final="+CMS ERROR: 321")
        elif cmd.startswith("+CMGD="):
            index = cmd[6:].split(",")[0]
            self.inbox.pop(int(index) if index.isdigit() else -1, None)
            log("deleted " + index)
            self.reply()
        else:
            self.reply(final="ERROR")

    # --- control ----------------------------------------------------------------------------
    def on_control(self, line):
        words = line.split()
        if not words:
            return True
        log("control " + line)
        if words[0] == "cms-error":
            self.cms_error_next = int(words[1]) if len(words) > 1 else 500
        elif words[0] == "no-network":
            self.network = False
        elif words[0] == "network":
            self.network = True
        elif words[0] == "unplug":
            self.unplug(float(words[1]) if len(words) > 1 else 1.0)
        elif words[0] == "deliver" and len(words) > 1:
            pdu = words[1].upper()
            self.inbox[self.next_index] = pdu if pdu.startswith("00") else "00" + pdu
            self.next_index += 1
        elif words[0] == "status-report" and len(words) > 2:
            mr, st = int(words[1]), int(words[2])
            number = words[3] if len(words) > 3 else ""
            # SMS-STATUS-REPORT (TS 23.040 9.2.2.3): first octet 0x06, MR, RA, SCTS, DT, ST.
            ts = "62101010000000"
            pdu = "0006%02X%s%s%s%02X" % (mr, address(number), ts, ts, st)
            self.write(("\r\n+CDS: %d\r\n%s\r\n" % (len(pdu) // 2 - 1, pdu)).encode())
        elif words[0] == "quit":
            return False
        return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--link", required=True)
    parser.add_argument("--pdus", required=True)
    parser.add_argument("--control", required=True)
    args = parser.parse_args()

    if os.path.lexists(args.control):
        os.unlink(args.control)
    os.mkfifo(args.control, 0o600)
    # O_RDWR: the FIFO never reports end-of-file when a writer goes away.
    control = os.open(args.control, os.O_RDWR | os.O_NONBLOCK)
    open(args.pdus, "a").close()

    modem = Modem(args)
    modem.open_pty()
    pending = b""
    running = True
    while running:
        fds = [control] + ([modem.master] if modem.master is not None else [])
        timeout = 0.2 if modem.reopen_at is not None else 5.0
        ready, _, _ = select.select(fds, [], [], timeout)
        if modem.reopen_at is not None and time.monotonic() >= modem.reopen_at:
            modem.reopen_at = None
            modem.open_pty()
            continue
        for fd in ready:
            if fd == control:
                pending += os.read(control, 4096)
                while b"\n" in pending and running:
                    line, pending = pending.split(b"\n", 1)
                    running = modem.on_control(line.decode("ascii", "replace").strip())
            elif fd == modem.master:
                try:
                    data = os.read(modem.master, 4096)
                except OSError:
                    # EIO: nobody has the slave side open (gammu closed it). Wait for the next
                    # opener without spinning.
                    data = b""
                if data:
                    modem.on_input(data)
                else:
                    time.sleep(0.05)
    os.unlink(args.control)
    if os.path.lexists(args.link):
        os.unlink(args.link)


if __name__ == "__main__":
    main()
