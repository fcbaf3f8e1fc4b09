#!/usr/bin/env node
// Interop client for smpp-mux using the npm "smpp" package (node-smpp),
// an SMPP implementation this project did not write. Same arguments and
// output lines as ../netsmpp_client.pl:
//
//   node smpp_client.js HOST PORT SYSTEM_ID PASSWORD DESTINATION COUNT
//   node smpp_client.js --bind-fail HOST PORT SYSTEM_ID PASSWORD
//
// Prints SUBMIT_RESP / DLR / BIND_OK / BIND_FAIL / CLOSED / DONE lines;
// problems the library saw in the mux's PDUs as WARN, BAD_DLR,
// UNEXPECTED or GENERIC_NACK lines. Exits 0 on success; non-zero on any
// error or after TIMEOUT seconds (env SMPP_TIMEOUT, default 20).
'use strict';

const smpp = require('smpp');

let args = process.argv.slice(2);
let bindFail = false;
if (args[0] === '--bind-fail') {
  bindFail = true;
  args = args.slice(1);
}
if (args.length !== (bindFail ? 4 : 6)) {
  console.error('usage: smpp_client.js HOST PORT SYSTEM_ID PASSWORD DESTINATION COUNT\n' +
    '       smpp_client.js --bind-fail HOST PORT SYSTEM_ID PASSWORD');
  process.exit(2);
}
const [host, port, systemId, password, dest, countArg] = args;
const count = bindFail ? 0 : parseInt(countArg, 10);
const timeout = parseFloat(process.env.SMPP_TIMEOUT || '20');
const linger = parseFloat(process.env.SMPP_LINGER || '0');

setTimeout(() => {
  console.error(`TIMEOUT after ${timeout}s`);
  process.exit(3);
}, timeout * 1000).unref();

function out(line) { process.stdout.write(line + '\n'); }

function fail(msg) {
  console.error(msg);
  process.exitCode = 1;
  process.stdout.write('', () => process.exit(1));
}

const STATES = { ENROUTE: 1, DELIVRD: 2, EXPIRED: 3, DELETED: 4, UNDELIV: 5, ACCEPTD: 6, UNKNOWN: 7, REJECTD: 8 };

const session = smpp.connect({ host, port: parseInt(port, 10) });
let phase = 'bind';
let failures = 0;
const submitted = new Set();
const delivrd = new Map();
const early = [];
let resps = 0;
let lingerTimer = null;

session.on('error', (e) => {
  if (phase === 'refused') return; // the mux closes after a refused bind
  fail(`session error in phase ${phase}: ${e && e.stack || e}`);
});

session.on('close', () => {
  if (phase === 'refused') {
    out('CLOSED');
    process.exit(0);
  }
  if (phase !== 'done') fail(`connection closed in phase ${phase}`);
});

function reportUnknownTLVs(pdu) {
  for (const k of Object.keys(pdu)) {
    if (/^\d+$/.test(k)) {
      out(`NOTE ${pdu.command} carries TLV 0x${Number(k).toString(16).padStart(4, '0')} the library does not know`);
    }
  }
}

function allDelivered() {
  if (resps < count) return false;
  for (const id of submitted) if (!delivrd.get(id)) return false;
  return true;
}

function finish() {
  if (phase !== 'submit') return;
  phase = 'linger';
  for (const id of early) {
    if (!submitted.has(id)) {
      out(`BAD_DLR DELIVRD for unknown id=${id}`);
      failures++;
    }
  }
  lingerTimer = setTimeout(() => {
    phase = 'unbind';
    session.unbind({}, (pdu) => {
      out(`UNBIND_RESP status=${pdu.command_status}`);
      phase = 'done';
      session.close();
      if (failures) return fail(`${failures} failure(s)`);
      out('DONE');
      process.stdout.write('', () => process.exit(0));
    });
  }, linger * 1000);
}

function handleReceipt(pdu) {
  const sm = pdu.short_message || {};
  let text = sm.message;
  if (Buffer.isBuffer(text)) text = text.toString('latin1');
  text = text || '';
  const textId = (text.match(/\bid:(\S+)/) || [])[1];
  const stat = (text.match(/\bstat:(\S+)/) || [])[1] || 'UNKNOWN';
  const rid = pdu.receipted_message_id;
  const id = rid !== undefined ? String(rid) : textId;
  if (!id) {
    out(`BAD_DLR no id: text=${text}`);
    failures++;
    return;
  }
  if (rid !== undefined && textId !== undefined && String(rid) !== textId) {
    out(`BAD_DLR receipted_message_id=${rid} but text id:${textId}`);
    failures++;
  }
  if (pdu.message_state !== undefined && STATES[stat] !== undefined && STATES[stat] !== pdu.message_state) {
    out(`BAD_DLR message_state=${pdu.message_state} but text stat:${stat}`);
    failures++;
  }
  out(`DLR id=${id} stat=${stat}`);
  if (stat === 'DELIVRD') {
    delivrd.set(id, (delivrd.get(id) || 0) + 1);
    if (!submitted.has(id)) early.push(id);
  }
}

session.on('deliver_sm', (pdu) => {
  reportUnknownTLVs(pdu);
  if (pdu.esm_class & 0x04) {
    handleReceipt(pdu);
  } else {
    const sm = pdu.short_message || {};
    out(`MO from=${pdu.source_addr} to=${pdu.destination_addr} text=${sm.message}`);
  }
  session.send(pdu.response());
  if (phase === 'submit' && allDelivered()) finish();
});

session.on('enquire_link', (pdu) => {
  out('ENQUIRE_LINK');
  session.send(pdu.response());
});

session.on('generic_nack', (pdu) => {
  out(`GENERIC_NACK status=${pdu.command_status} seq=${pdu.sequence_number}`);
  failures++;
});

session.on('unbind', (pdu) => {
  session.send(pdu.response());
  if (phase !== 'unbind' && phase !== 'done') fail('the mux unbound us before we were done');
});

session.on('unknown', (pdu) => {
  out(`UNEXPECTED cmd=0x${pdu.command_id.toString(16)} seq=${pdu.sequence_number}`);
  failures++;
});

session.on('connect', () => {
  session.bind_transceiver({ system_id: systemId, password, interface_version: 0x34 }, (pdu) => {
    if (pdu.command_status !== 0) {
      out(`BIND_FAIL status=${pdu.command_status}`);
      if (!bindFail) return fail(`bind refused: status ${pdu.command_status}`);
      phase = 'refused';
      setTimeout(() => { out('NOT_CLOSED'); process.exit(0); }, 5000).unref();
      return;
    }
    out(`BIND_OK status=0 system_id=${pdu.system_id || ''}`);
    if (bindFail) return fail('bind with a wrong password succeeded');
    phase = 'submit';
    for (let n = 1; n <= count; n++) {
      session.submit_sm({
        source_addr_ton: 5,
        source_addr_npi: 0,
        source_addr: 'Interop',
        dest_addr_ton: 1,
        dest_addr_npi: 1,
        destination_addr: dest,
        registered_delivery: 1,
        data_coding: 0,
        short_message: `node-smpp interop message ${n}`,
      }, (resp) => {
        resps++;
        const id = resp.message_id || '';
        out(`SUBMIT_RESP status=${resp.command_status} id=${id}`);
        if (resp.command_status !== 0) {
          failures++;
        } else {
          submitted.add(id);
        }
        if (allDelivered()) finish();
      });
    }
  });
});
