// lwm2m-node-lib's LwM2M client (a peer nobody here wrote) against lwgated: Register, Update,
// De-register. Usage: node node_client.js HOST PORT ENDPOINT
// Prints one line per step ("register ok", "update error ...") and exits 0 when all succeeded.
'use strict';
const client = require('lwm2m-node-lib').client;
const config = require('lwm2m-node-lib/config');

const [host, port, endpoint] = process.argv.slice(2);
config.logLevel = 'FATAL';
config.client.logLevel = 'FATAL';
client.init(config);

function report(step, err) {
  console.log(step + ' ' + (err ? 'error ' + (err.message || err.name || JSON.stringify(err)) : 'ok'));
}

// Bounded: the whole exchange must be over well before this.
setTimeout(() => { console.log('timeout'); process.exit(3); }, 20000).unref();

client.registry.create('/3/0', (err) => {
  if (err) { report('create', err); process.exit(2); }
  client.registry.setResource('/3/0', '0', 'lwm2m-node-lib', () => {
    client.register(host, port, '', endpoint, (err, info) => {
      report('register', err);
      if (err) process.exit(1);
      console.log('location ' + info.location);
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
