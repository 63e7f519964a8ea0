/** TorchServe's `createdOn`: local time as `dd/mm/yyyy HH:MM:SS` (Python's `%d/%m/%Y %H:%M:%S`). */
export function formatCreatedOn(date: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(date.getDate())}/${two(date.getMonth() + 1)}/${date.getFullYear()} ${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
}
