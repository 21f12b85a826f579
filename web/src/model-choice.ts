/**
 * The model Generate and Selection run: the URL or Hub id typed into #gen-model, or a folder picked
 * with #gen-folder (until the field is typed into again).
 */
import { $ } from './dom.js';
import type { PickedFolder } from './protocol.js';

let picked: PickedFolder | null = null;

export function watchModelChoice(): void {
  const field = $<HTMLInputElement>('gen-model');
  const input = $<HTMLInputElement>('gen-folder');
  input.onchange = () => {
    const files = [...(input.files ?? [])];
    if (files.length === 0) return;
    const name = files[0]!.webkitRelativePath.split('/')[0] || files[0]!.name;
    picked = { name, files };
    field.value = `picked folder: ${name}`;
  };
  field.oninput = () => {
    picked = null;
    input.value = '';
  };
}

export function modelChoice(): { model: string; folder?: PickedFolder } {
  return picked ? { model: picked.name, folder: picked } : { model: $<HTMLInputElement>('gen-model').value };
}
