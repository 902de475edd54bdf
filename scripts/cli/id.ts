/** `credit id check CODE…`: checks USCCs and resident IDs, one JSON line per argument. */
import { checkIdentifier } from '../../protocol/identifiers.js';
import { cliError } from '../errors.js';
import { command, group } from './framework.js';

const check = command({
  name: 'check',
  summary: 'check Unified Social Credit Codes (GB 32100) and resident ID numbers (GB 11643)',
  usage: 'CODE…',
  help: [
    'Prints one JSON line per CODE: {"input","valid","kind":"uscc"|"resident-id"|"unknown","code"?,"warnings"?}',
    '("code" only when invalid: ERR_INVALID_USCC, ERR_INVALID_RESIDENT_ID, ERR_UNKNOWN_IDENTIFIER;',
    '"warnings" only on a valid code worth a second look, e.g. a resident ID born more than 120 years',
    'ago such as the GB 11643 example 440524188001010014 — valid, but check it).',
    'Exit status 0 when every CODE is valid, 1 otherwise. Input is checked as given: lower-case',
    'letters are refused (the standards define upper case only).',
  ].join('\n'),
  options: {},
  positionals: true,
  run: async ({ positionals, io }) => {
    if (positionals.length === 0) throw cliError('ERR_USAGE', 'give at least one CODE to check');
    let allValid = true;
    for (const input of positionals) {
      const r = checkIdentifier(input);
      allValid &&= r.valid;
      io.stdout(JSON.stringify(r) + '\n');
    }
    return allValid ? 0 : 1;
  },
});

export const idGroup = group('id', 'check identifiers (USCC, resident ID)', [check]);
