/** Small, fixed, realistic payloads for the protected APIs (deterministic, so tests can assert on them). */

export const TECHPULSE_DEVICE_TYPES = [
  { deviceType: "Notebook", count: 412 },
  { deviceType: "Desktop", count: 233 },
  { deviceType: "Workstation", count: 57 },
  { deviceType: "Thin Client", count: 41 },
  { deviceType: "Tablet", count: 18 },
  { deviceType: "Mobile", count: 12 },
  { deviceType: "Retail POS", count: 6 },
  { deviceType: "Printer", count: 94 },
  { deviceType: "Monitor", count: 301 },
  { deviceType: "Dock", count: 188 },
  { deviceType: "Headset", count: 77 },
  { deviceType: "Other", count: 9 },
];

export const WXP_ROOMS = [
  { id: "room-0001", name: "Boardroom 1", site: "Palo Alto", devices: 3, status: "online" },
  { id: "room-0002", name: "Huddle 2A", site: "Palo Alto", devices: 1, status: "online" },
  { id: "room-0003", name: "Training 4", site: "Houston", devices: 4, status: "degraded" },
  { id: "room-0004", name: "Focus 12", site: "Bristol", devices: 1, status: "offline" },
];

export const DSCC_STORAGE_SYSTEMS = [
  {
    id: "2M202205GQ",
    name: "alletra-6k-01",
    systemWWN: "2FF70002AC0216C1",
    model: "HPE Alletra 6010",
    productFamily: "deviceType4",
    state: "NORMAL",
    softwareVersions: "6.1.1.200",
    resourceUri: "/api/v1/storage-systems/2M202205GQ",
    type: "storage-system",
  },
  {
    id: "7CE816P0AD",
    name: "primera-02",
    systemWWN: "2FF70002AC01F1B2",
    model: "HPE Primera 630",
    productFamily: "deviceType1",
    state: "NORMAL",
    softwareVersions: "4.5.10",
    resourceUri: "/api/v1/storage-systems/7CE816P0AD",
    type: "storage-system",
  },
  {
    id: "CZ2D1P0H4F",
    name: "nimble-dr-03",
    systemWWN: "2FF70002AC0254D3",
    model: "HPE Nimble Storage HF20",
    productFamily: "deviceType2",
    state: "DEGRADED",
    softwareVersions: "6.0.0.300",
    resourceUri: "/api/v1/storage-systems/CZ2D1P0H4F",
    type: "storage-system",
  },
];

export const ARUBA_APS = [
  {
    serial: "CNF7JSS9L1",
    macaddr: "b4:5d:50:c8:aa:10",
    name: "AP-Lobby-01",
    model: "AP-515",
    status: "Up",
    ip_address: "10.1.10.21",
    firmware_version: "10.5.1.0_87654",
    group_name: "HQ",
    site: "Headquarters",
    swarm_master: true,
    client_count: 14,
  },
  {
    serial: "CNF7JSS9L2",
    macaddr: "b4:5d:50:c8:aa:20",
    name: "AP-Floor2-East",
    model: "AP-535",
    status: "Up",
    ip_address: "10.1.10.22",
    firmware_version: "10.5.1.0_87654",
    group_name: "HQ",
    site: "Headquarters",
    swarm_master: false,
    client_count: 31,
  },
  {
    serial: "VNJ8KT0Q3M",
    macaddr: "20:4c:03:1e:bb:30",
    name: "AP-Warehouse",
    model: "AP-655",
    status: "Down",
    ip_address: "10.2.20.5",
    firmware_version: "10.4.0.2_86012",
    group_name: "Logistics",
    site: "Warehouse",
    swarm_master: false,
    client_count: 0,
  },
];

/** Serial whose only contract is G-blocked: no Highest Support Level at all. */
export const IDENTITY_GBLOCKED_SERIAL = "CZGBLOCKED1";

export function entitlement(serial: string, product: string, cc: string, hsl: boolean): Record<string, unknown> {
  const onlyBlocked = serial.toUpperCase() === IDENTITY_GBLOCKED_SERIAL;
  const active = {
    contractNumber: "1041234567",
    contractStatus: "Active",
    contractStatusFlags: [],
    deliveryBlocked: false,
    serviceLevel: "HPE Foundation Care 24x7 SVC",
    supportLevelCode: "HA110A3#5Y8",
    startDate: "2024-02-01",
    endDate: "2029-01-31",
    highestSupportLevel: "24x7",
  };
  // The G flag: active, but delivery blocked by Global Trade Services, so the engine gives no support level.
  const blocked = {
    contractNumber: "1047654321",
    contractStatus: "Active G",
    contractStatusFlags: ["G"],
    deliveryBlocked: true,
    serviceLevel: "HPE Proactive Care 24x7 SVC",
    supportLevelCode: "H1K92A3#WAH",
    startDate: "2023-06-01",
    endDate: "2028-05-31",
  };
  const contracts = onlyBlocked ? [blocked] : [active, blocked];
  const deliverable = contracts.find((c) => !c.deliveryBlocked) as typeof active | undefined;
  return {
    serialNumber: serial,
    productNumber: product,
    countryCode: cc,
    warrantyStatus: "Active",
    warranty: { type: "Base Warranty", startDate: "2024-01-15", endDate: "2027-01-14" },
    ...(hsl && deliverable ? { highestSupportLevel: deliverable.highestSupportLevel } : {}),
    contracts,
  };
}
