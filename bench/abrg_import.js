// Load local ABR zips into an installed abr-geocoder's database, without its catalog download.
//
//   node bench/abrg_import.js <abr-geocoder package dir> <abrg data dir> <zip>...
//
// `abrg download` asks catalog.registries.digital.go.jp (hard-coded host, HTTPS) for a package
// list, fetches each CSV zip into <abrg dir>/download and hands it to its CSV workers. This machine
// cannot reach that host, so this script hands our local zips straight to those same workers
// (CsvParseTransform: unzip, parse by file name, load into SQLite) and then builds the geocoding
// caches with createGeocodeCaches, as the download command does after downloading. It only calls
// the installed package's own modules; nothing of abr-geocoder is copied or patched here.
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Readable, Writable } = require('node:stream');
const { pipeline } = require('node:stream/promises');

async function main() {
  const [pkgDir, abrgDir, ...zips] = process.argv.slice(2);
  if (!pkgDir || !abrgDir || zips.length === 0) {
    console.error('usage: node abrg_import.js <package dir> <abrg dir> <zip>...');
    process.exit(2);
  }
  const build = path.join(path.resolve(pkgDir), 'build');
  const need = (rel) => require(path.join(build, rel));
  const { DownloadDiContainer } = need('usecases/download/models/download-di-container');
  const { CsvParseTransform } = need('usecases/download/transformations/csv-parse-transform');
  const { AbrGeocoderDiContainer } = need('usecases/geocode/models/abr-geocoder-di-container');
  const { createGeocodeCaches } = need('usecases/geocode/services/create-geocode-caches');
  const { parseFilename } = need('domain/services/parse-filename');

  const dirs = {
    cacheDir: path.join(abrgDir, 'cache'),
    downloadDir: path.join(abrgDir, 'download'),
    database: { type: 'sqlite3', dataDir: path.join(abrgDir, 'database') },
  };
  const container = new DownloadDiContainer({ ...dirs, keepFiles: false });
  const threads = Math.max(os.availableParallelism() - 1, 1);
  const jobs = zips.map((zip) => {
    const meta = parseFilename({ filepath: path.basename(zip, '.zip') });
    if (!meta) {
      throw new Error(`abr-geocoder does not know this file name: ${zip}`);
    }
    // The workers delete the zip after loading it: hand them a copy.
    const copy = path.join(dirs.downloadDir, path.basename(zip));
    fs.copyFileSync(zip, copy);
    return { dataset: meta.type, zipFilePath: copy, status: 'unset', urlCache: undefined };
  });
  const parser = await CsvParseTransform.create({
    maxConcurrency: threads,
    semaphoreSize: 101,
    container,
    lgCodeFilter: new Set(),
  });
  let failed = 0;
  const sink = new Writable({
    objectMode: true,
    write(result, _, callback) {
      if (result.status !== 'success') {
        failed += 1;
        console.error('not loaded:', JSON.stringify(result));
      }
      callback();
    },
  });
  await pipeline(Readable.from(jobs), parser, sink);
  parser.close();
  if (failed) {
    throw new Error(`${failed} of ${jobs.length} files were not loaded`);
  }
  const geocodeContainer = new AbrGeocoderDiContainer({
    cacheDir: dirs.cacheDir,
    database: dirs.database,
    debug: false,
  });
  await createGeocodeCaches({ container: geocodeContainer, maxConcurrency: threads });
  console.log(`loaded ${jobs.length} files into ${abrgDir}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
