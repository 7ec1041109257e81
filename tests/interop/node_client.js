// lwm2m-node-lib's LwM2M client (a peer nobody here wrote) against lwgated.
//   node node_client.js HOST PORT ENDPOINT            Register, Update, De-register
//   node node_client.js HOST PORT ENDPOINT serve SECS  Register, then answer the server's Read,
//                                                      Write and Execute for SECS seconds
//                                                      ("write /1/0/1 300", "execute /3/0/4 ..."
//                                                      lines), then De-register
// Prints one line per step ("register ok", "update error ...") and exits 0 when all succeeded.
'use strict';
const client = require('lwm2m-node-lib').client;
const config = require('lwm2m-node-lib/config');

const [host, port, endpoint, mode, seconds] = process.argv.slice(2);
const serveFor = mode === 'serve' ? Number(seconds) : 0;
config.logLevel = 'FATAL';
config.client.logLevel = 'FATAL';
client.init(config);

function report(step, err) {
  console.log(step + ' ' + (err ? 'error ' + (err.message || err.name || JSON.stringify(err)) : 'ok'));
}

// Bounded: the whole exchange must be over well before this.
setTimeout(() => { console.log('timeout'); process.exit(3); }, 20000 + serveFor * 1000).unref();

// Serve mode: the objects a server reads and writes (/1/0/1 Lifetime, /3/0/4 Reboot).
function serve(info) {
  client.setHandler(info.serverInfo, 'read', (type, id, resource, value, callback) => {
    console.log('read /' + type + '/' + id + '/' + resource);
    callback(null, value);
  });
  client.setHandler(info.serverInfo, 'write', (type, id, resource, value, callback) => {
    console.log('write /' + type + '/' + id + '/' + resource + ' ' + value);
    callback(null);
  });
  client.setHandler(info.serverInfo, 'execute', (type, id, resource, args, callback) => {
    console.log('execute /' + type + '/' + id + '/' + resource + ' ' + (args || ''));
    callback(null);
  });
  console.log('serving');
  setTimeout(() => {
    client.unregister(info, (err) => {
      report('unregister', err);
      process.exit(err ? 1 : 0);
    });
  }, serveFor * 1000);
}

client.registry.create('/3/0', (err) => {
  if (err) { report('create', err); process.exit(2); }
  client.registry.create('/1/0', () => client.registry.setResource('/1/0', '1', '86400', () => {}));
  client.registry.setResource('/3/0', '0', 'lwm2m-node-lib', () => {
    client.register(host, port, '', endpoint, (err, info) => {
      report('register', err);
      if (err) process.exit(1);
      console.log('location ' + info.location);
      if (serveFor > 0) {
        serve(info);
        return;
      }
      client.update(info, (updateErr) => {
        report('update', updateErr);
        client.unregister(info, (unregisterErr) => {
          report('unregister', unregisterErr);
          process.exit(updateErr || unregisterErr ? 1 : 0);
        });
      });
    });
  });
});
