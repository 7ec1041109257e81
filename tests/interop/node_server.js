// lwm2m-node-lib's LwM2M server (a peer nobody here wrote) as the bridge's upstream server.
//   node node_server.js PORT
// Prints one line per event, each starting with the Unix time in ms:
//   T listening PORT
//   T register EP lt=LT lwm2m=V b=B port=P payload=LINKS
//   T update EP port=P payload=LINKS
//   T unregister EP
// and runs commands read from stdin, one per line, printing the outcome:
//   read EP /O/I/R               -> T read EP /O/I/R ok VALUE | T read EP /O/I/R error WHY
//   write EP /O/I/R VALUE        -> T write EP /O/I/R ok | error WHY
//   execute EP /O/I/R [ARGS]     -> T execute EP /O/I/R ok | error WHY
//   observe EP /O/I/R            -> T observe EP /O/I/R ok VALUE, then T notify EP /O/I/R VALUE
//   cancel EP /O/I/R             -> T cancel EP /O/I/R ok
//   devices                      -> T devices EP1 EP2 ...
// Exits when stdin ends (or on SIGTERM).
'use strict';

// lwm2m-node-lib reaches devices through node-coap 0.22's proxy: its agent sends each request to
// the server's own socket with a Proxy-Uri, and the server relays it to the device and the
// device's answers back to the agent. The relay handles only messages with a token: the empty
// ACK of a separate response (device -> agent) and the agent's ACK of a confirmable answer (a
// separate response, a notification; agent -> device) are dropped, so neither side sees its
// confirmable message acknowledged (RFC 7252 4.2). This shim relays those ACKs and RSTs by
// Message ID; everything else is the library's own code.
const middlewares = require('coap/lib/middlewares');
const coapPacket = require('coap-packet');
const relayed = new Map(); // "fromAddress:fromPort:mid" of an expected ACK -> where it goes
function remember(from, mid, to) {
  relayed.set(from.address + ':' + from.port + ':' + mid, to);
  if (relayed.size > 10000) relayed.delete(relayed.keys().next().value);
}
const proxyRequest = middlewares.proxyRequest;
middlewares.proxyRequest = function (request, next) {
  proxyRequest(request, (err) => {
    if (!err && request.proxy && request.packet.confirmable) {
      const url = require('url').parse(request.proxy);
      remember({ address: url.hostname, port: Number(url.port) }, request.packet.messageId,
               request.rsinfo);
    }
    next(err);
  });
};
const handleProxyResponse = middlewares.handleProxyResponse;
middlewares.handleProxyResponse = function (request, next) {
  if (request.proxy) return handleProxyResponse(request, next);
  const p = request.packet;
  if (p.code === '0.00' && (p.ack || p.reset)) {
    const key = request.rsinfo.address + ':' + request.rsinfo.port + ':' + p.messageId;
    const to = relayed.get(key);
    if (to) {
      relayed.delete(key);
      const buf = coapPacket.generate(p);
      request.server._sock.send(buf, 0, buf.length, to.port, to.address);
      return next(null);
    }
    return handleProxyResponse(request, next);
  }
  const original = request.server._proxiedRequests[p.token.toString('hex')];
  if (original && p.confirmable) remember(original.rsinfo, p.messageId, request.rsinfo);
  return handleProxyResponse(request, next);
};

const server = require('lwm2m-node-lib').server;
const readline = require('readline');

const port = Number(process.argv[2]);
function say(line) {
  console.log(Date.now() + ' ' + line);
}

const config = {
  port: port,
  lifetimeCheckInterval: 1000,
  udpWindow: 100,
  defaultType: 'Device',
  logLevel: 'FATAL',
  ipProtocol: 'udp4',
  serverProtocol: 'udp4',
  // Plain text, which every LwM2M client serves for single values (the library's default is the
  // pre-release number 1541 for text, which LwM2M 1.0+ clients do not know).
  writeFormat: 'text/plain',
  defaultAcceptFormat: 'text/plain',
  formats: [{ name: 'application-vnd-oma-lwm2m/tlv', value: 11542 }],
};

function withDevice(name, fn) {
  server.getDevice(name, (err, device) => {
    if (err || !device) {
      fn(new Error('unknown device ' + name));
    } else {
      fn(null, device);
    }
  });
}

function split(path) {
  const parts = path.split('/').filter((s) => s.length > 0);
  return [parts[0], parts[1], parts[2]];
}

function report(what, err, value) {
  if (err) {
    say(what + ' error ' + (err.message || err.name || JSON.stringify(err)));
  } else {
    say(what + ' ok' + (value !== undefined && value !== null && value !== '' ? ' ' + value : ''));
  }
}

function run(line) {
  const words = line.trim().split(/\s+/);
  const [verb, ep, path] = words;
  const what = verb + ' ' + ep + ' ' + path;
  if (verb === 'devices') {
    server.listDevices((err, list) => say('devices ' + list.map((d) => d.name).join(' ')));
    return;
  }
  if (!ep || !path) {
    say('bad command ' + line);
    return;
  }
  const [obj, inst, res] = split(path);
  withDevice(ep, (err, device) => {
    if (err) return report(what, err);
    switch (verb) {
      case 'read':
        server.read(device.id, obj, inst, res, (e, value) => report(what, e, value));
        break;
      case 'write':
        server.write(device.id, obj, inst, res, words.slice(3).join(' '), (e) => report(what, e));
        break;
      case 'execute':
        server.execute(device.id, obj, inst, res, words.slice(3).join(' '), (e) => report(what, e));
        break;
      case 'observe':
        server.observe(
          device.id, obj, inst, res,
          (value) => say('notify ' + ep + ' ' + path + ' ' + value),
          (e, value) => report(what, e, value));
        break;
      case 'cancel':
        server.cancelObserver(device.id, obj, inst, res, (e) => report(what, e));
        break;
      default:
        say('bad command ' + line);
    }
  });
}

server.start(config, (error, info) => {
  if (error) {
    say('error ' + (error.message || error));
    process.exit(1);
  }
  server.setHandler(info, 'registration', (ep, lt, version, binding, payload, callback) => {
    server.getDevice(ep, (err, device) => {
      say('register ' + ep + ' lt=' + lt + ' lwm2m=' + version + ' b=' + binding +
          ' port=' + (device ? device.port : '?') + ' payload=' + payload);
      callback();
    });
  });
  server.setHandler(info, 'updateRegistration', (device, payload, callback) => {
    say('update ' + device.name + ' port=' + device.port + ' payload=' + payload);
    callback();
  });
  server.setHandler(info, 'unregistration', (device, callback) => {
    say('unregister ' + device.name);
    callback();
  });
  say('listening ' + port);
  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', run);
  rl.on('close', () => server.stop(info, () => process.exit(0)));
});
process.on('SIGTERM', () => process.exit(0));
