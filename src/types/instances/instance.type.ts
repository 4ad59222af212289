import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import type { InstanceRecord } from '../../services/instances/instances.service';
import { ListSize } from '../list-size';

export enum InstanceRole {
  GATEWAY = 'GATEWAY',
  WORKER = 'WORKER',
}
registerEnumType(InstanceRole, { name: 'InstanceRole', description: 'What a registered process does.' });

@ObjectType({ description: 'A live gateway or worker process, from the service registry.' })
export class Instance {
  @Field(() => ID, { description: 'Host, pid and a random part; new on every start.' })
  id!: string;

  @Field(() => InstanceRole, { description: 'The role the process was started as.' })
  role!: InstanceRole;

  @ListSize({ max: 2 })
  @Field(() => [InstanceRole], { description: 'Every role it runs: a gateway with WORKER=1 also runs workers.' })
  roles!: InstanceRole[];

  @Field({ description: 'The package version it runs.' })
  version!: string;

  @Field(() => String, { nullable: true, description: 'Where it serves HTTP; null for a worker process.' })
  address!: string | null;

  @Field()
  hostname!: string;

  @Field(() => Int)
  pid!: number;

  @Field(() => Date)
  startedAt!: Date;

  @Field(() => Date)
  lastHeartbeatAt!: Date;

  @Field(() => Date, { description: 'When it drops out of the registry unless it heartbeats again.' })
  expiresAt!: Date;
}

const toRole = (r: InstanceRecord['role']): InstanceRole => (r === 'gateway' ? InstanceRole.GATEWAY : InstanceRole.WORKER);

export const toInstance = (i: InstanceRecord): Instance => ({
  id: i.id,
  role: toRole(i.role),
  roles: i.roles.map(toRole),
  version: i.version,
  address: i.address,
  hostname: i.hostname,
  pid: i.pid,
  startedAt: new Date(i.startedAt),
  lastHeartbeatAt: new Date(i.lastHeartbeatAt),
  expiresAt: new Date(i.expiresAt),
});
