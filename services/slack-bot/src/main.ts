import { runService } from '@msa/service-kit';
import { service } from './service';

runService(service);
